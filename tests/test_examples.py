"""Every example runs as written: the python code blocks of README.md and docs/**/*.rst|md (one item per file, one
namespace per file, printed numbers compared to the precision shown) and the ``>>>`` examples of the package's
docstrings (one item per docstring). The convention is in ``examples_runner``'s docstring; run it by hand with
``python tests/examples_runner.py [FILE|DIR ...]``."""
import doctest
import os
import random
import re
import shutil
import sys
import warnings

import numpy as np
import pytest

import fastmlp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import examples_runner as er  # noqa: E402  (tests/ is not a package)

FILES = er.example_files()
IMPORT_ERRORS = {}  # modules left out for want of an optional dependency: their docstrings are reported skipped
DOCSTRINGS = [pytest.param(t, id=t.name) for t in er.docstring_tests(IMPORT_ERRORS)] + [
    pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"{name} not importable here: {why}"))
    for name, why in sorted(IMPORT_ERRORS.items())]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary working directory, matplotlib on Agg (figures closed after), numpy's and random's seeds at 0;
    the warning filters, numpy's error state and fastmlp's thread count are put back afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    np.random.seed(0)
    random.seed(0)
    threads, err = fastmlp.get_num_threads(), np.geterr()
    with warnings.catch_warnings():
        yield tmp_path
    np.seterr(**err)
    if fastmlp.get_num_threads() != threads:  # only then: setting it would override OMP_NUM_THREADS from now on
        fastmlp.set_num_threads(threads)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(p, er.ROOT) for p in FILES])
def test_file_examples(path, sandbox):
    res = er.run_file(path)
    print(f"{os.path.relpath(path, er.ROOT)}: {res.summary()}")
    for line, reason in res.skipped:
        print(f"  skipped at line {line}: {reason}")
    if res.failures:
        pytest.fail("\n".join(res.failures), pytrace=False)
    if os.path.basename(path) == "README.md":  # the tour ran, none of it skipped, and its numbers were compared
        assert res.run >= 1 and res.compared >= 5 and not res.skipped, res.summary()


def test_readme_starts_with_the_two_commands():
    """The README's first two code blocks are the install-and-demo and the test commands (.ci/run runs the second)."""
    blocks, _ = er.read_blocks(os.path.join(er.ROOT, "README.md"))
    assert [(b.lang, b.code.strip()) for b in blocks[:2]] == [
        ("bash", "pip install . && fastmlp demo"), ("bash", 'pip install ".[test]" && pytest -n auto --dist loadfile')]
    ci = os.path.join(er.ROOT, ".ci", "run")
    if os.path.isfile(ci):
        with open(ci) as f:
            assert '\npip install ".[test]" && pytest -n auto --dist loadfile\n' in f.read()


def test_readme_links_resolve():
    """Every relative link of the README names a file or folder of the source tree (checked once docs/ exists)."""
    with open(os.path.join(er.ROOT, "README.md"), encoding="utf-8") as f:
        targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", f.read())
    local = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]
    assert local, "the README links into docs/"
    if not os.path.isdir(os.path.join(er.ROOT, "docs")):
        pytest.skip("no docs/ in this tree (an sdist, or a branch before the docs were merged)")
    missing = [t for t in local if not os.path.exists(os.path.join(er.ROOT, t))]
    assert not missing, f"README links to {missing}, which do not exist"


@pytest.mark.parametrize("test", DOCSTRINGS)
def test_docstring_examples(test, sandbox):
    test.globs = dict(test.globs)  # a fresh copy for each run
    _, failures = er.run_doctest(test)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


# ---- the runner itself, on small made-up files -----------------------------------------------------------------
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("want, got, ok", [
    ("0.9731", "0.97312", True), ("0.9731", "0.97316", False), ("0.97", "0.974999", True), ("0.97", "0.9751", False),
    ("42", "42", True), ("42", "43", False), ("1.5e-3", "0.00153", True), ("1.5e-3", "1.56e-03", False),
    ("(array([1, 7]), 0.91)", "(array([1, 7]), 0.9093)", True), ("array([1, 7])", "array([1, 8])", False),
    ("loss 0.12 after 3 steps", "loss 0.1234 after 3 steps", True), ("loss 0.12", "cost 0.12", False),
    ("[0.1, ...]", "[0.1003, 0.2, 0.3]", True), ("a   b\n", "a b\n", True), ("-0.5", "0.5", False),
    ("True", "False", False), ("0.91\n", "0.91\n0.5\n", False),
])
def test_numeric_checker(want, got, ok):
    assert er.NumericChecker().check_output(want + "\n", got + "\n", er.OPTIONFLAGS) is ok


MD_PAGE = """\
# t

```python
x = 2
```

text

```pycon
>>> x * 0.5012
1.0
```

```bash
rm -rf /
```

<!-- skip-example: needs a cluster -->
```python
raise SystemExit
```

1. In a list item:

    ```pycon
    >>> w = x + 1
    >>> w
    3
    ```

```python
assert w == 3
```
"""

MYST_PAGE = """\
```{math}
p = x
```

```{code-block} python
:caption: c

x = 2
```

```{doctest}
>>> x + 1
3
```

% skip-example: slow
```{code-block} python
raise SystemExit
```

```{note}
text
```
"""

RST_PAGE = """\
T
=

.. code-block:: python
   :caption: c

   y = 3
   z = y + 1

Text::

    plain literal, not run

>>> z
4

.. code:: pycon

   >>> print(z / 3)
   1.33

.. skip-example: slow

.. code-block:: python

   raise SystemExit

An example::

   >>> y
   3

.. code-block:: c

   int x;
"""


@pytest.mark.parametrize("name, text, expected", [
    ("page.md", MD_PAGE, (4, 2, [(20, "needs a cluster")], {"bash": 1})),
    ("myst.md", MYST_PAGE, (2, 1, [(18, "slow")], {"{math}": 1, "{note}": 1})),
    ("page.rst", RST_PAGE, (4, 3, [(26, "slow")], {"c": 1})),
])
def test_blocks_run_in_order_in_one_namespace(tmp_path, sandbox, name, text, expected):
    """Markdown, MyST and rst pages: which blocks run (counted), compare output, are skipped (with the line of
    their code and the reason) or are left alone (by language)."""
    res = er.run_file(_write(tmp_path, name, text))
    assert (res.run, res.compared, res.skipped, res.other, res.failures) == expected + ([],)


def test_failures_name_file_and_line(tmp_path, sandbox):
    path = _write(tmp_path, "bad.md", "intro\n\n```python\na = 1\nb = undefined_name\n```\n\n```python\nc = 1\n```\n")
    res = er.run_file(path)
    assert res.run == 1 and "bad.md:4: python block failed" in res.failures[0]
    assert "line 5" in res.failures[0] and "NameError" in res.failures[0]
    assert "1 later block(s) not run" in res.failures[1]
    res = er.run_file(_write(tmp_path, "wrong.md", "```pycon\n>>> 1 / 3\n0.34\n```\n"))
    assert res.failures and "line 2" in res.failures[0] and "0.3333" in res.failures[0]


@pytest.mark.parametrize("text, problem", [
    ("<!-- skip-example -->\n```python\nx\n```\n", "marker without a reason"),
    ("<!-- skip-example: why -->\n\ntext\n", "not followed by a code block"),
    ("```python\n>>> 1\n1\n\nx = 2\n```\n", "neither a >>> line"),
    ("```python\nx = 1\n", "never closed"),
])
def test_refused(tmp_path, sandbox, text, problem):
    res = er.run_file(_write(tmp_path, "p.md", text))
    assert any(problem in f for f in res.failures), res.failures


C_EXAMPLE = r"""
```c
#include <stdio.h>
#include "fastmlp.h"
int main(void) {
    float x[2] = {1, -2}, W[2] = {0.5f, 0.25f}, b[1] = {0.25f}, p[1];
    int rc = fm_dense_forward_f32(x, W, b, p, 1, 2, 1, FM_ACT_RELU);
    printf("%d %g\n", rc, p[0]);
    return rc != 0 || p[0] != 0.25f;
}
```
"""


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")) or not os.path.isdir(os.path.join(er.ROOT, "csrc")),
                    reason="needs a C compiler and the source tree's csrc/")
def test_c_blocks_compile_and_run(tmp_path, sandbox):
    """A c block with ``int main`` is compiled against the C core and run; a non-zero exit names its line."""
    res = er.run_file(_write(tmp_path, "c.md", "C:\n" + C_EXAMPLE + "\n```c\nint f(void);\n```\n"))
    assert (res.run, res.other, res.failures) == (1, {"c": 1}, [])
    res = er.run_file(_write(tmp_path, "c2.md", C_EXAMPLE.replace("p[0] != 0.25f", "p[0] != 0.5f")))
    assert res.run == 1 and "c2.md:3: c block" in res.failures[0] and "exited 1" in res.failures[0]


def test_docstrings_are_collected():
    """The docstring collection sees the package's modules (the compiled core included) and runs a made-up one."""
    names = {m.__name__ for m in er.package_modules()}
    assert {"fastmlp", "fastmlp._core", "fastmlp.mlp", "fastmlp.regions", "fastmlp.reference"} <= names

    def f():
        """>>> np.arange(3) / 3
        array([0.   , 0.333, 0.667])
        """
    test, = doctest.DocTestFinder().find(f, "f", globs={"np": np})
    assert er.run_doctest(test) == (1, [])
