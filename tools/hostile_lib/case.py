"""The attack record (Case), the constants every part shares, and the Builder the family modules add attacks to."""
from __future__ import annotations

import os
import sys
import textwrap
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _home():
    """The folder the attacked fastmlp is imported from: this source tree when it holds an in-place build (unless
    FASTMLP_TEST_INSTALLED is set), else the installed package's (the tree's uncompiled sources must not shadow
    it, as in CI)."""
    import importlib.machinery
    import importlib.util

    built = any(os.path.exists(os.path.join(ROOT, "fastmlp", "_core" + s))
                for s in importlib.machinery.EXTENSION_SUFFIXES)
    if built and not os.environ.get("FASTMLP_TEST_INSTALLED"):
        return ROOT
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != ROOT]
    try:
        spec = importlib.util.find_spec("fastmlp")
    finally:
        sys.path[:] = saved
    return ROOT if spec is None or spec.origin is None else os.path.dirname(os.path.dirname(spec.origin))


HOME = _home()  # goes first on the attacks' sys.path / PYTHONPATH
GiB = 1 << 30
FAMILIES = ("kernels", "api", "files", "cli", "threads", "signals", "memory")
CATEGORIES = ("crash", "silent wrong", "lost file", "hang", "unclear error")
CLEAN = {"ValueError", "TypeError", "RuntimeError", "ImportError", "ModuleNotFoundError"}


@dataclass
class Case:
    id: str
    family: str
    code: str | None = None            # a library attack: Python run by the worker (prelude.py)
    argv: list | None = None           # a CLI attack: the arguments of python -m fastmlp
    expect: str = "either"             # "error": must be refused; "ok": must succeed; "either": refused or right
    names: tuple = ()                  # an error message must contain one of these (case-insensitive)
    check: object = None               # CLI: check(dir, rc, out, err) -> None or (category, reason)
    mem: float = 8.0                   # RLIMIT_AS in GiB
    timeout: float = 30.0
    max_rss_mb: float | None = None    # runaway memory (peak RSS of the process)
    max_s: float | None = None         # runaway time (a refusal must come within this)
    quick: bool = False
    item: str = ""                     # the item of the issue whose fix this attack checks
    mutable: tuple = ()                # files the attack may change (an output replaced with --force)
    setup: object = None               # setup(dir): extra files
    env: dict = field(default_factory=dict)
    stdin: str | None = None
    signal_after: tuple | None = None  # (seconds, signal) sent to the process group


def dd(s):
    return textwrap.dedent(s).strip("\n")


class Builder:
    """The attacks in the order they are added: add() a library attack, cli() a command-line one."""

    def __init__(self):
        self.cases = []

    def add(self, id, family, code=None, **kw):
        if code is not None:
            code = dd(code)
        self.cases.append(Case(id=id, family=family, code=code, **kw))

    def cli(self, id, argv, expect="error", names=(), quick=False, **kw):
        family = kw.pop("family", "cli")
        self.cases.append(Case(id=f"{family}.{id}", family=family, argv=argv, expect=expect, names=names,
                               quick=quick, **kw))


def csv_writer(name, text):
    """A setup(dir) writing text to dir/name."""
    def setup(d):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return setup


def _loads(p):
    sys.path.insert(0, HOME)
    import fastmlp
    try:
        fastmlp.load(p)
        return True
    except Exception:
        return False
