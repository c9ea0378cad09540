"""Runs the code examples of the README and the docs as written, and the ``>>>`` examples of the package's
docstrings; ``tests/test_examples.py`` drives it, ``python tests/examples_runner.py [FILE|DIR ...]`` runs it by
hand (default: README.md and docs/) and prints what ran. The convention (README.md, docs/**/*.rst|md):

- Run: Markdown/MyST fences tagged ``python``, ``py``, ``python3`` or ``pycon`` (also ``{code-block} python``,
  ``{doctest}``, ``{testcode}``); rst ``.. code-block::`` / ``.. code::`` / ``.. sourcecode::`` with one of those
  languages, ``.. doctest::``, ``.. testcode::``, doctest blocks (a paragraph starting with ``>>>``) and ``::``
  literal blocks whose first line starts with ``>>>``. In file order, one namespace per file (``__name__`` is
  ``"__main__"``); a failure names the file and the line, and the file's later blocks are not run.
- A block of ``>>> `` / ``... `` lines is a doctest: what each prompt prints is compared with the output shown
  (``NumericChecker``: numbers to the precision written, ``0.9731`` matches ``0.97312``; other text exactly, up to
  whitespace; ``...`` matches anything). Text in it that is neither a prompt line nor output is refused.
- ``<!-- skip-example: <reason> -->`` or ``% skip-example: <reason>`` (Markdown/MyST), ``.. skip-example: <reason>``
  (rst) as the last non-blank line before a block keeps it from running; without a reason, or followed by no
  block, it is an error.
- Other languages (bash, console, text, ...) are not run; a ``c`` block with ``int main`` is compiled against the
  C core (``csrc/``) and run, where a C compiler is on PATH.

Docstrings (``docstring_tests``): every ``>>>`` example in the modules of ``fastmlp`` and ``fastmlp.reference``
(functions, classes, methods, properties, the compiled core too) runs with the same checker, in the module's
globals plus ``np``, as ``pytest --doctest-modules`` would.
"""
import atexit
import doctest
import importlib
import importlib.util
import inspect
import os
import pkgutil
import random
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_LANGS = {"python", "py", "python3", "pycon", "doctest"}
C_LANGS = {"c"}
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
SKIP_MD = re.compile(r"^\s*(?:<!--\s*skip-example\b\s*:?(.*?)-->|%\s*skip-example\b\s*:?(.*))\s*$")
SKIP_RST = re.compile(r"^\s*\.\.\s+skip-example\b\s*:?(.*)$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\{[\w-]+\}\s*)?([^\s`{]*)")
MYST_LANG = {"{code-block}": None, "{code}": None, "{sourcecode}": None, "{doctest}": "pycon", "{testcode}": "python"}
RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(code-block|code|sourcecode|doctest|testcode)::\s*(\S*)\s*$")
RST_OPTION = re.compile(r"^\s+:[\w-]+:")


class Block(NamedTuple):
    """One code block: its file, the 1-based line of its first code line, its language, its code (dedented), and
    None to run it or the reason of its skip marker ("" when the marker has none)."""
    path: str
    line: int
    lang: str
    code: str
    skip: Optional[str]

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGS

    @property
    def is_doctest(self) -> bool:
        return any(line.lstrip().startswith(">>>") for line in self.code.splitlines())


class Result(NamedTuple):
    """What one file gave: blocks run, skipped (with their reasons), not run (other languages, by language), the
    doctest examples whose output was compared, and the failures (messages naming file and line)."""
    run: int
    skipped: List[Tuple[int, str]]
    other: Dict[str, int]
    compared: int
    failures: List[str]

    def summary(self) -> str:
        other = ", ".join(f"{n} {lang or 'untagged'}" for lang, n in sorted(self.other.items()))
        return (f"{self.run} run ({self.compared} outputs compared), {len(self.skipped)} skipped"
                + (f", not run: {other}" if other else ""))


# ---- reading the blocks ----------------------------------------------------------------------------------------
def _dedent(lines: List[str]) -> str:
    indents = [len(s) - len(s.lstrip()) for s in lines if s.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(s[cut:] if s.strip() else "" for s in lines).strip("\n") + "\n"


def _marker(lines: List[str], before: int, pattern) -> Tuple[Optional[str], Optional[int]]:
    """The skip reason on the last non-blank line before index ``before`` (and that line's index), else None."""
    i = before - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    m = pattern.match(lines[i]) if i >= 0 else None
    return ("".join(g for g in m.groups() if g).strip(), i) if m else (None, None)


def markdown_blocks(path: str, text: str) -> Tuple[List[Block], List[str]]:
    """The fenced code blocks of a Markdown file, and the problems found (unclosed fences, stray markers)."""
    lines, blocks, problems, used = text.splitlines(), [], [], set()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(4).lower()
        directive = (m.group(3) or "").strip()
        if directive:  # MyST: ```{code-block} python, ```{doctest}; any other directive ({math}, {note}) is text
            lang = MYST_LANG[directive] or lang if directive in MYST_LANG else directive
        j = i + 1
        close = re.compile(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            problems.append(f"{path}:{i + 1}: code fence never closed")
        start = i + 1
        if directive:  # MyST options: ":key: value" lines, or a "---" YAML block, before the code
            if start < j and lines[start].strip() == "---":
                start = next((k + 1 for k in range(start + 1, j) if lines[k].strip() == "---"), start)
            while start < j and re.match(r"^\s*:[\w-]+:", lines[start]):
                start += 1
        body = [s[min(indent, len(s) - len(s.lstrip())):] for s in lines[start:j]]
        reason, at = _marker(lines, i, SKIP_MD)
        if at is not None:
            used.add(at)
        first = next((k for k in range(start, j) if lines[k].strip()), start)
        blocks.append(Block(path, first + 1, lang, _dedent(body) if body else "", reason))
        i = j + 1
    problems += _stray_markers(path, lines, SKIP_MD, used, blocks)
    return blocks, problems


def _stray_markers(path, lines, pattern, used, blocks) -> List[str]:
    inside = set()
    for b in blocks:
        inside.update(range(b.line - 1, b.line - 1 + b.code.count("\n")))
    return [f"{path}:{k + 1}: skip-example marker not followed by a code block"
            for k, s in enumerate(lines) if pattern.match(s) and k not in used and k not in inside]


def _indented_body(lines: List[str], start: int, indent: int) -> int:
    """The index after the last line of the body that starts at ``start`` and is indented more than ``indent``."""
    j = start
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    return j


def rst_blocks(path: str, text: str) -> Tuple[List[Block], List[str]]:
    """The code blocks of a reStructuredText file (directives, doctest blocks, ``::`` literal blocks)."""
    lines, blocks, used = text.splitlines(), [], set()
    i, prev_blank = 0, True
    while i < len(lines):
        line = lines[i]
        m = RST_DIRECTIVE.match(line)
        lit = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if m:
            indent, kind, arg = len(m.group(1)), m.group(2), m.group(3).lower()
            lang = {"doctest": "pycon", "testcode": "python"}.get(kind, arg)
            j = i + 1
            while j < len(lines) and RST_OPTION.match(lines[j]):
                j += 1
            end = _indented_body(lines, j, indent)
            body = lines[j:end]
            first = next((k for k in range(j, end) if lines[k].strip()), end)
            reason, at = _marker(lines, i, SKIP_RST)
            blocks.append(Block(path, first + 1, lang, _dedent(body) if body else "", reason))
        elif lit:
            indent = len(line) - len(line.lstrip())
            end = _indented_body(lines, i + 1, indent)
            first = next((k for k in range(i + 1, end) if lines[k].strip()), end)
            if first < end and lines[first].lstrip().startswith(">>>"):
                top = i  # the marker sits above the paragraph that introduces the literal block
                while top > 0 and lines[top - 1].strip():
                    top -= 1
                reason, at = _marker(lines, top, SKIP_RST)
                blocks.append(Block(path, first + 1, "pycon", _dedent(lines[first:end]), reason))
            else:
                at = None
        elif prev_blank and line.lstrip().startswith(">>>"):  # a doctest block: a paragraph of >>> lines
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            reason, at = _marker(lines, i, SKIP_RST)
            blocks.append(Block(path, i + 1, "pycon", _dedent(lines[i:end]), reason))
        else:
            prev_blank = not line.strip()
            i += 1
            continue
        if at is not None:
            used.add(at)
        i = max(i + 1, end)
        prev_blank = True
    return blocks, _stray_markers(path, lines, SKIP_RST, used, blocks)


def read_blocks(path: str) -> Tuple[List[Block], List[str]]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return (rst_blocks if path.endswith(".rst") else markdown_blocks)(path, text)


# ---- comparing output ------------------------------------------------------------------------------------------
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _tolerance(token: str) -> float:
    """Half a unit of the last digit written: 0.9731 -> 5e-5, 42 -> 0.5, 1.5e-3 -> 5e-5."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


class NumericChecker(doctest.OutputChecker):
    """doctest's checker (with ELLIPSIS and NORMALIZE_WHITESPACE as given), and where that fails, a match in
    which every number in the expected output stands for any number within half a unit of its last written digit
    (``0.9731`` matches ``0.97312``, ``42`` matches only ``42``), and the text between numbers matches exactly (up
    to whitespace, and ``...`` matching anything when ELLIPSIS is on)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if optionflags & doctest.NORMALIZE_WHITESPACE:
            want, got = " ".join(want.split()), " ".join(got.split())
        else:
            want, got = want.rstrip("\n"), got.rstrip("\n")
        tokens: List[Tuple[str, str]] = []
        parts = want.split("...") if optionflags & doctest.ELLIPSIS else [want]
        for k, part in enumerate(parts):
            if k:
                tokens.append(("any", ""))
            pos = 0
            for m in NUMBER.finditer(part):
                if m.start() > pos:
                    tokens.append(("text", part[pos:m.start()]))
                tokens.append(("num", m.group()))
                pos = m.end()
            if pos < len(part):
                tokens.append(("text", part[pos:]))
        return self._match(tokens, got, 0, 0, {})

    def _match(self, tokens, got, t, pos, memo) -> bool:
        key = (t, pos)
        if key in memo:
            return memo[key]
        if t == len(tokens):
            ok = pos == len(got)
        else:
            kind, value = tokens[t]
            if kind == "text":
                ok = got.startswith(value, pos) and self._match(tokens, got, t + 1, pos + len(value), memo)
            elif kind == "any":
                ok = any(self._match(tokens, got, t + 1, p, memo) for p in range(pos, len(got) + 1))
            else:
                m = NUMBER.match(got, pos)
                ok = (m is not None and abs(float(m.group()) - float(value)) <= _tolerance(value) * (1 + 1e-9)
                      and self._match(tokens, got, t + 1, m.end(), memo))
        memo[key] = ok
        return ok


# ---- running ---------------------------------------------------------------------------------------------------
class _Runner(doctest.DocTestRunner):
    def __init__(self):
        super().__init__(checker=NumericChecker(), verbose=False, optionflags=OPTIONFLAGS)


def run_doctest(test: doctest.DocTest) -> Tuple[int, List[str]]:
    """Runs one DocTest in its globs (kept: the namespace carries on); returns (examples with an expected output,
    failure reports)."""
    report: List[str] = []
    runner = _Runner()
    runner.run(test, out=report.append, clear_globs=False)
    return sum(1 for e in test.examples if e.want), (["".join(report)] if runner.failures else [])


def _doctest_of(block: Block, ns: dict, name: str) -> doctest.DocTest:
    parser = doctest.DocTestParser()
    prose = [p for p in parser.parse(block.code) if isinstance(p, str) and p.strip()]
    if prose:  # doctest would skip it as commentary: in a code block it is code that would never run
        raise ValueError(f"text that is neither a >>> line nor the output of one: {prose[0].strip().splitlines()[0]!r}")
    test = parser.get_doctest(block.code, ns, name, block.path, block.line - 1)
    test.globs = ns  # DocTest took a copy: run in the file's namespace itself, so that later blocks see its names
    return test


def run_block(block: Block, ns: dict, rel: str) -> Tuple[int, List[str]]:
    """Runs one block in ``ns``; returns (outputs compared, failures)."""
    if block.is_doctest:
        try:
            test = _doctest_of(block, ns, f"{rel}:{block.line}")
        except ValueError as e:
            return 0, [f"{rel}:{block.line}: {block.lang} block: {e}"]
        return run_doctest(test)
    try:  # the code at its own line numbers, so that a traceback points into the file
        exec(compile("\n" * (block.line - 1) + block.code, block.path, "exec"), ns)
    except BaseException as e:  # noqa: B036 -- SystemExit from an example is a failure too
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = traceback.TracebackException.from_exception(e)
        tb.stack = traceback.StackSummary.from_list(list(tb.stack)[1:])  # from the example's own line on
        return 0, [f"{rel}:{block.line}: {block.lang} block failed:\n" + "".join(tb.format())]
    return 0, []


def run_file(path: str, ns: Optional[dict] = None) -> Result:
    """Every block of one file, in order, in one namespace; stops at the first failing block (the later ones build
    on it)."""
    rel = os.path.relpath(path, ROOT)
    blocks, failures = read_blocks(path)
    ns = {"__name__": "__main__"} if ns is None else ns
    run, compared, skipped, other = 0, 0, [], {}
    for b in blocks:
        if b.skip is not None:
            skipped.append((b.line, b.skip))
            if not b.skip:
                failures.append(f"{rel}:{b.line}: skip-example marker without a reason")
            continue
        if not b.runs:
            if b.lang in C_LANGS and "int main" in b.code:
                ran, problem = run_c_block(b, rel)
                run += ran
                failures += problem
            else:
                other[b.lang] = other.get(b.lang, 0) + 1
            continue
        if not b.code.strip():
            failures.append(f"{rel}:{b.line}: empty {b.lang} block")
            continue
        n, problems = run_block(b, ns, rel)
        run, compared = run + 1, compared + n
        if problems:
            left = len(blocks) - blocks.index(b) - 1
            failures += problems + ([f"{rel}: {left} later block(s) not run"] if left else [])
            break
    return Result(run, skipped, other, compared, failures)


# ---- C blocks --------------------------------------------------------------------------------------------------
_C_LIB: Dict[str, str] = {}


def _c_core(cc: str) -> str:
    """csrc/ compiled once (no OpenMP, -O0: about a second) into a static library in a temporary folder; its path."""
    if "lib" not in _C_LIB:
        out = tempfile.mkdtemp(prefix="fastmlp-cblocks-")
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        src = os.path.join(ROOT, "csrc")
        objs = []
        for name in sorted(os.listdir(src)):
            if name.endswith(".c"):
                obj = os.path.join(out, name[:-2] + ".o")
                subprocess.run([cc, "-std=c11", "-O0", "-c", os.path.join(src, name), "-o", obj], check=True,
                               capture_output=True, text=True)
                objs.append(obj)
        lib = os.path.join(out, "libfastmlp.a")
        subprocess.run(["ar", "rcs", lib] + objs, check=True, capture_output=True)
        _C_LIB["lib"] = lib
    return _C_LIB["lib"]


def run_c_block(block: Block, rel: str) -> Tuple[int, List[str]]:
    """Compiles a C example (``int main``) against the C core and runs it: (1 if it ran, failures). Where there is
    no C compiler or no ``csrc/`` (an installed package tested outside its source tree) it is not run: (0, [])."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None or not os.path.isdir(os.path.join(ROOT, "csrc")) or shutil.which("ar") is None:
        return 0, []
    try:
        lib = _c_core(cc)
        with tempfile.TemporaryDirectory() as tmp:
            src, exe = os.path.join(tmp, "example.c"), os.path.join(tmp, "example")
            with open(src, "w") as f:
                f.write(f'#line {block.line} "{block.path}"\n' + block.code)
            subprocess.run([cc, "-std=c11", "-Wall", "-I", os.path.join(ROOT, "csrc"), src, lib, "-lm", "-o", exe],
                           check=True, capture_output=True, text=True)
            subprocess.run([exe], check=True, capture_output=True, text=True, cwd=tmp, timeout=60)
    except subprocess.CalledProcessError as e:
        return 1, [f"{rel}:{block.line}: c block: {' '.join(map(str, e.cmd))[:200]} exited {e.returncode}:\n"
                   f"{e.stdout or ''}{e.stderr or ''}"]
    return 1, []


# ---- files and docstrings --------------------------------------------------------------------------------------
EXCLUDED_TOP = ("_build", "auto_examples", "gallery")  # build output, sphinx-gallery's pages and its sources
EXCLUDED_ANY = ("generated", "_templates", "_static", "_ext")  # autosummary's stubs, templates, assets, extensions
GENERATED_FILES = ("sg_execution_times.rst",)  # sphinx-gallery writes it beside conf.py


def files_under(folder: str, top: bool = True) -> List[str]:
    """The .rst and .md files under a folder, sorted, leaving out what Sphinx and its extensions generate or read
    as something other than pages (and, at the top of docs/, the gallery sources: sphinx-gallery runs those)."""
    out = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in EXCLUDED_ANY
                         and not (top and here == folder and d in EXCLUDED_TOP))
        out += [os.path.join(here, n) for n in sorted(names)
                if n.endswith((".rst", ".md")) and n not in GENERATED_FILES]
    return out


def example_files(root: str = ROOT) -> List[str]:
    """README.md and docs/**/*.rst|md."""
    readme = os.path.join(root, "README.md")
    return ([readme] if os.path.isfile(readme) else []) + files_under(os.path.join(root, "docs"))


def package_modules(errors: Optional[Dict[str, str]] = None) -> list:
    """Every module of fastmlp (but ``__main__``) and of fastmlp.reference, imported; one whose import fails for
    want of an optional dependency is left out, and named in ``errors``."""
    import fastmlp  # here, not at the top: by hand, main() lets the root conftest choose which fastmlp first
    import fastmlp.reference

    names = {"fastmlp", "fastmlp.reference"}
    for pkg in (fastmlp, fastmlp.reference):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".", onerror=lambda name: None):
            if not info.name.endswith("__main__"):
                names.add(info.name)
    modules = []
    for name in sorted(names):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as e:
            if errors is not None:
                errors[name] = f"{type(e).__name__}: {e}"
    return modules


def docstring_tests(errors: Optional[Dict[str, str]] = None) -> List[doctest.DocTest]:
    """The DocTests of every docstring with a ``>>>`` example in the package, each in a copy of its module's
    globals plus ``np``; one per object, found in the module that defines it."""
    finder, parser = doctest.DocTestFinder(exclude_empty=True), doctest.DocTestParser()
    tests: Dict[str, doctest.DocTest] = {}
    for module in package_modules(errors):
        globs = dict(vars(module), np=numpy)
        for test in finder.find(module, module=module, globs=globs):
            if test.examples:
                tests.setdefault(test.name, test)
        # the compiled core's properties are getset descriptors, which DocTestFinder passes over
        for cname, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                for aname, attr in vars(cls).items():
                    doc = getattr(attr, "__doc__", None)
                    if (inspect.isgetsetdescriptor(attr) or inspect.ismemberdescriptor(attr)) and doc:
                        name = f"{module.__name__}.{cname}.{aname}"
                        test = parser.get_doctest(doc, globs, name, getattr(module, "__file__", None), None)
                        if test.examples:
                            tests.setdefault(name, test)
    return [tests[k] for k in sorted(tests)]


def run_in_tmp(path: str) -> Result:
    """run_file in a fresh temporary working directory, numpy's and random's global seeds set to 0, matplotlib on
    Agg (what the test does with its fixtures)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            numpy.random.seed(0)
            random.seed(0)
            return run_file(path)
        finally:
            os.chdir(old)


def main(argv: List[str]) -> int:
    # test the fastmlp the test suite would: the root conftest.py picks the tree (built in place) or the installed
    # package, and maps fastmlp.reference to reference/ for the tree
    conftest = os.path.join(ROOT, "conftest.py")
    if os.path.isfile(conftest):
        spec = importlib.util.spec_from_file_location("_fastmlp_root_conftest", conftest)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    import fastmlp

    print(f"fastmlp {fastmlp.__version__} from {os.path.dirname(fastmlp.__file__)}")
    paths: List[str] = []
    for a in argv:
        paths += files_under(a, top=os.path.basename(os.path.abspath(a)) == "docs") if os.path.isdir(a) else [a]
    bad = 0
    for p in paths or example_files():
        res = run_in_tmp(os.path.abspath(p))
        print(f"{os.path.relpath(os.path.abspath(p), ROOT)}: {res.summary()}")
        for f in res.failures:
            print("  " + f.replace("\n", "\n  "))
        bad += bool(res.failures)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
