"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by fastmlp's C core: switch by changing the
import (needs scikit-learn: ``pip install 'fastmlp[sklearn]'``)."""
try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("fastmlp's scikit-learn estimators need scikit-learn: pip install 'fastmlp[sklearn]'") from exc

from ._models import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
