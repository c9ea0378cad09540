"""Every name is defined once, in fastmlp.vocabulary: the compiled core and the library take theirs from it, and
the oracle (which stands alone, importing nothing of the package) spells the same codes."""
import importlib.util
import os

import pytest

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


def test_the_c_enums_list_the_vocabularys_names_in_code_order():
    """C_ENUMS is generated from fastmlp.h (tools/gen_core.py): the C side of the one table."""
    assert _core.C_ENUMS["fm_act"] == vocabulary.ACTIVATIONS
    assert _core.C_ENUMS["fm_loss"] == vocabulary.CORE_LOSSES


def test_the_generator_reads_enums_by_their_codes():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "gen_core.py")
    if not os.path.exists(path):
        pytest.skip("tools/gen_core.py is in the source tree, not in an installed wheel")
    spec = importlib.util.spec_from_file_location("gen_core", path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = "typedef enum { FM_X_B = 1, FM_X_C, FM_X_A = 0 } fm_x;\ntypedef enum { FM_Y_P } fm_y;"
    assert gen.enums(text) == {"fm_x": ("a", "b", "c"), "fm_y": ("p",)}
    with pytest.raises(SystemExit, match="numbered"):
        gen.enums("typedef enum { FM_Z_A = 0, FM_Z_B = 2 } fm_z;")
