"""The twins of the functions that read the machine (reference/machine.py) against the C core: cpu_path,
dense_blocking, bf16_path, bf16_train_path and init give the same answers here, in this process and in child processes
started with FASTMLP_ISA / FASTMLP_BLOCKS / FASTMLP_BF16 set (the C reads them once, at import). Where this machine
does not show a twin what the C read (no /proc/cpuinfo flags, no cache level in sysfs) the twin raises
MachineInfoError and the comparison is skipped."""
import ctypes
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmlp
import fastmlp.reference as reference
from fastmlp import _core
from fastmlp.reference import machine

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = machine.ENV_NAMES

# the C core's answers and the twins' in one process, as JSON; a twin that cannot see the machine says why
SCRIPT = r"""
import ctypes, json
import fastmlp.reference as ref
from fastmlp import _core
c = [_core.cpu_path(), list(_core.dense_blocking("float32").values()), list(_core.dense_blocking("float64").values()),
     _core.bf16_path(), _core.bf16_train_path(), ctypes.CDLL(_core.__file__).fm_init()]
try:
    blocks = []
    for f64 in (0, 1):
        blocks.append([0] * 7)
        ref.dense_blocking(f64, blocks[-1])
    twin = [ref.cpu_path(), blocks[0], blocks[1], ref.bf16_path(), ref.bf16_train_path(), ref.init() or 0]
except ref.MachineInfoError as e:
    twin = "MachineInfoError: " + str(e)
print(json.dumps({"c": c, "twin": twin}))
"""

# each child sets every variable (None: unset); values the C ignores are there too ("sse9", "junk", a kc over 2**20)
CASES = [
    {"FASTMLP_ISA": "avx2", "FASTMLP_BLOCKS": "8,1", "FASTMLP_BF16": "nofma", "FASTMLP_BF16_TRAIN": "avx512bf16"},
    {"FASTMLP_ISA": "baseline", "FASTMLP_BLOCKS": " +24,-0", "FASTMLP_BF16": None, "FASTMLP_BF16_TRAIN": None},
    {"FASTMLP_ISA": "naive", "FASTMLP_BLOCKS": "junk", "FASTMLP_BF16": "nofma", "FASTMLP_BF16_TRAIN": "amx"},
    {"FASTMLP_ISA": "sse9", "FASTMLP_BLOCKS": "2000000,5", "FASTMLP_BF16": "fma", "FASTMLP_BF16_TRAIN": "avx512bf16"},
    {"FASTMLP_ISA": None, "FASTMLP_BLOCKS": None, "FASTMLP_BF16": None, "FASTMLP_BF16_TRAIN": "emulated"},
]


def answers():
    """(the C core's answers in this process, the twins'); skips where the twins cannot see this machine."""
    c = [_core.cpu_path(), list(_core.dense_blocking("float32").values()),
         list(_core.dense_blocking("float64").values()), _core.bf16_path(), _core.bf16_train_path(),
         ctypes.CDLL(_core.__file__).fm_init()]  # FM_OK (0); the extension called it at import
    try:
        blocks = [[0] * 7, [0] * 7]
        for f64 in (0, 1):
            reference.dense_blocking(f64, blocks[f64])
        return c, [reference.cpu_path(), blocks[0], blocks[1], reference.bf16_path(), reference.bf16_train_path(),
                   reference.init() or 0]  # the twin of fm_init: None for FM_OK
    except reference.MachineInfoError as e:
        pytest.skip(f"the twins cannot see this machine: {e}")


def test_twins_answer_as_the_c_core_in_this_process():
    # the C read the environment at import; nothing in the suite changes these variables for good
    c, twin = answers()
    assert c == twin
    assert c[0] in machine.PATHS and c[4] in machine.BF16_TRAIN_PATHS


def test_twins_answer_as_the_c_core_with_the_environment_set():
    answers()  # skips where the twins cannot see this machine
    procs = []
    for case in CASES:
        env = {k: v for k, v in os.environ.items() if k not in ENV}
        env.update({k: v for k, v in case.items() if v is not None})
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=HERE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    paths = set()
    for case, proc in zip(CASES, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert got["c"] == got["twin"], case
        paths.add(got["c"][0])
    assert "naive" in paths and "baseline" in paths  # a request lowers the path on every machine
    assert got["c"][4] == "emulated"  # the last case: FASTMLP_BF16_TRAIN=emulated caps it on every machine


def test_twins_read_the_environment_now(monkeypatch):
    # unlike the C core (read once, at import), a twin follows os.environ: here, the lowest path
    answers()  # skips where the twins cannot see this machine
    monkeypatch.setenv("FASTMLP_ISA", "naive")
    monkeypatch.setenv("FASTMLP_BF16", "nofma")
    assert reference.cpu_path() == "naive" and reference.bf16_path() == "emulated"
    assert reference.bf16_train_path() == "emulated"
    info = [None] * 7
    reference.dense_blocking(0, info)
    assert info[3:] == [0, 0, 0, 0]  # no blocks, no tiles on the plain loops


TEXT = st.text(alphabet=" \t+-0123456789,xK\n", max_size=12) | st.sampled_from(
    ["8,1", "18446744073709551615,1", "18446744073709551616,2", "-1,5", "1048576,16777216", "1048577,1", "0x10,4",
     "9,16777217", "", ","])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="compares with glibc's sscanf")
@given(text=TEXT)
def test_blocks_are_parsed_as_sscanf_does(text):
    """The twin's reading of FASTMLP_BLOCKS is fmi_caches' sscanf(value, "%lu,%lu") and limits, asked of libc."""
    libc = ctypes.CDLL(None)
    k, n = ctypes.c_ulong(0), ctypes.c_ulong(0)
    read = libc.sscanf(text.encode(), b"%lu,%lu", ctypes.byref(k), ctypes.byref(n))
    want = (k.value, n.value) if read == 2 and k.value <= 2 ** 20 and n.value <= 2 ** 24 else (0, 0)
    assert machine.forced_blocks(text) == want, text


def test_sysfs_tree_is_read_as_the_c_reads_it(tmp_path, monkeypatch):
    """A made-up cpu0 cache folder: instruction caches skipped, sizes in K, M or bytes, a zero size passed over,
    reading stops at the first missing index; a missing level is MachineInfoError, never a guess."""
    entries = [("1", "Instruction", "64K"), ("1", "Data", "0K"), ("1", "Data", "48K"), ("2", "Unified", "2M"),
               ("3", "Unified", "1234567")]
    for idx, (level, kind, size) in enumerate(entries):
        folder = tmp_path / f"index{idx}"
        folder.mkdir()
        for name, text in (("level", level), ("type", kind), ("size", size)):
            (folder / name).write_text(text + "\n")
    (tmp_path / "index6").mkdir()  # past a gap: not read
    (tmp_path / "index6" / "level").write_text("4\n")
    monkeypatch.setattr(machine, "SYSFS_CACHE", str(tmp_path))
    assert [machine.sysfs_cache(level) for level in (1, 2, 3, 4)] == [48 * 1024, 2 * 1024 * 1024, 1234567, 0]
    monkeypatch.delenv("FASTMLP_BLOCKS", raising=False)
    # an L3 below the L2 is taken as 4 x L2, as fm_clamp_caches does
    assert machine.caches() == {"l1d": 48 * 1024, "l2": 2 * 1024 * 1024, "l3": 8 * 1024 * 1024, "kc": 0, "nc": 0}
    (tmp_path / "index4" / "level").write_text("2\n")  # no level 3 left
    with pytest.raises(reference.MachineInfoError, match="level 3"):
        machine.caches()


def test_environment_names_are_those_fm_init_reads():
    # the twins read the names the header says fm_init reads (a new variable needs its twin's reading too)
    with open(f"{fastmlp.get_include()}/fastmlp.h") as f:
        header = f.read()
    comment = header[:header.index("FM_API int fm_init(void);")].rpartition("/*")[2]
    assert tuple(re.findall(r"FASTMLP_[A-Z0-9_]+", comment)) == machine.ENV_NAMES
