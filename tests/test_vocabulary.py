"""Every name is defined once, in fastmlp.vocabulary: the compiled core and the library take theirs from it, and
the oracle (which stands alone, importing nothing of the package) spells the same codes."""
import fastmlp
import fastmlp.reference as R
from fastmlp import _core, optimizers, schedules, vocabulary


def test_the_oracle_uses_the_codes_of_the_vocabulary():
    assert R.ACTIVATIONS == {name: code for code, name in enumerate(vocabulary.ACTIVATIONS)}
    assert R.LOSSES == {name: code for code, name in enumerate(vocabulary.CORE_LOSSES)}


def test_the_core_and_the_library_take_their_names_from_the_vocabulary():
    assert _core.ACTIVATIONS is vocabulary.ACTIVATIONS and fastmlp.ACTIVATIONS is vocabulary.ACTIVATIONS
    assert tuple(optimizers.BY_NAME) == vocabulary.OPTIMIZERS
    assert [cls.name for cls in optimizers.BY_NAME.values()] == list(vocabulary.OPTIMIZERS)
    assert tuple(schedules.NAMES) == vocabulary.SCHEDULES
    assert set(vocabulary.LOGIT_LOSSES) | set(vocabulary.LABEL_LOSSES) <= set(vocabulary.LOSSES)
