"""Optional extras (onnx, torch, scipy, matplotlib, tqdm, ...), imported when first needed, with one message
saying how to install a missing one."""
import importlib


def require(module, why, install):
    """The module named ``module`` (e.g. ``"scipy.optimize"``), or an ImportError: ``why`` it is needed and the
    ``install`` command."""
    try:
        importlib.import_module(module.split(".")[0])  # the package first: a submodule may already be loaded
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{why} needs {module.split('.')[0]}: {install}") from exc
