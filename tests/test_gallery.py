"""The gallery of the source documents (``docs/gallery``, built by sphinx-gallery with ``docs/gallery_conf.py``): every
script is in sphinx-gallery's format, covers its source, runs the demo's own experiments (``fastmlp.apps.demo_*``)
and defines no function of its own, so nothing is written twice; one cheap script runs end to end. The whole site,
gallery included, is built by the docs test."""
import ast
import importlib
import io
import os
import re
import runpy
from contextlib import redirect_stdout

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
GALLERY = os.path.join(DOCS, "gallery")
SOURCES = ("000", "001", "002", "003", "004")
DEMO_MODULE = re.compile(r"^fastmlp\.apps\.demo(_\w+)?$")


def scripts():
    out = []
    for folder, _, files in sorted(os.walk(GALLERY)):
        out += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    return out


def tree(path):
    with open(path, encoding="utf-8") as fh:
        return ast.parse(fh.read(), filename=path)


def demo_imports(module):
    """{local name: module object} for the script's imports of ``fastmlp.apps.demo*`` modules and their names."""
    names = {}
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module == "fastmlp.apps":
            for a in node.names:
                if DEMO_MODULE.match(f"fastmlp.apps.{a.name}"):
                    names[a.asname or a.name] = importlib.import_module(f"fastmlp.apps.{a.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and DEMO_MODULE.match(node.module):
            mod = importlib.import_module(node.module)
            for a in node.names:
                names[a.asname or a.name] = getattr(mod, a.name)
    return names


def test_the_gallery_covers_every_source_document():
    files = scripts()
    names = [os.path.basename(f) for f in files]
    assert names and all(re.fullmatch(r"plot_(00[0-4])_\w+\.py", n) for n in names), names
    assert {n[5:8] for n in names} == set(SOURCES)
    for f in files:                    # each script in its source's sub-folder, which has its header
        folder = os.path.dirname(f)
        assert os.path.basename(folder)[:3] == os.path.basename(f)[5:8], f
        assert os.path.isfile(os.path.join(folder, "README.rst")), folder
    with open(os.path.join(GALLERY, "README.rst"), encoding="utf-8") as fh:
        index = fh.read()
    title = index.splitlines()[0]
    assert index.splitlines()[1] == "=" * len(title)
    assert all(f"**{s}**" in index for s in SOURCES)


@pytest.mark.parametrize("path", scripts(), ids=os.path.basename)
def test_script_format_and_demo_calls(path):
    module = tree(path)
    doc = ast.get_docstring(module)
    assert doc, f"{path}: no module docstring"
    lines = doc.splitlines()
    assert len(lines) > 3 and lines[0].strip() and set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), \
        f"{path}: no title"
    assert "says" in doc and "Setup here" in doc, f"{path}: the docstring states the claim and the setup"
    with open(path, encoding="utf-8") as fh:
        assert "\n# %%\n" in fh.read(), f"{path}: no # %% cells"
    # nothing written twice: no function, lambda or class of its own
    own = [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                           ast.ClassDef))]
    assert not own, f"{path}: defines {[getattr(n, 'name', 'lambda') for n in own]}; call the demo's functions"
    # it calls the demo's own experiments, and prints the rows the demo measured
    names = demo_imports(module)
    calls = [n for n in ast.walk(module) if isinstance(n, ast.Call)]
    demo_calls = []
    for c in calls:
        f = c.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names:
            target = getattr(names[f.value.id], f.attr, None)
            assert callable(target), f"{path}: {f.value.id}.{f.attr} is no demo function"
            demo_calls.append(f"{f.value.id}.{f.attr}")
    assert demo_calls, f"{path}: calls no fastmlp.apps.demo_* function"
    assert "Context" in names and "describe" in names
    printed = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "print" and c.args and
               isinstance(c.args[0], ast.Call) and getattr(c.args[0].func, "id", None) == "describe"]
    assert printed, f"{path}: prints no verdict (print(describe(rows)))"
    # it draws the demo's figures, kept by the context (ctx.figure(name, fig); the docs build draws them)
    figures = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "figure"
               and isinstance(c.func.value, ast.Name) and c.func.value.id == "ctx"]
    assert figures, f"{path}: draws no figure"


def test_gallery_conf_runs_every_script():
    conf = runpy.run_path(os.path.join(DOCS, "gallery_conf.py"))["sphinx_gallery_conf"]
    assert conf["examples_dirs"] == "gallery" and conf["gallery_dirs"] == "auto_examples"
    assert all(re.search(conf["filename_pattern"], p) for p in scripts())
    assert conf["abort_on_example_error"] is True and conf["download_all_examples"] is False
    assert conf["within_subsection_order"] == "FileNameSortKey"
    assert conf["remove_config_comments"] and not conf["show_memory"] and not conf["line_numbers"]


def test_a_script_runs_and_prints_its_verdicts():
    """The derivative's step (source 002): no training, well under a second."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = io.StringIO()
    before = set(plt.get_fignums())
    try:
        with redirect_stdout(out):
            runpy.run_path(os.path.join(GALLERY, "002_derivative", "plot_002_step_size.py"), run_name="__main__")
        new = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        assert len(new) == 1 and new[0].axes and new[0].axes[0].lines      # the V, drawn on a pyplot figure
    finally:
        for n in set(plt.get_fignums()) - before:
            plt.close(n)
    text = out.getvalue()
    verdicts = re.findall(r"^\s+verdict:\s+(.+)$", text, re.M)
    assert len(verdicts) == 6 and all(v.startswith("holds") for v in verdicts), text
    assert "[002] d/dx sigmoid" in text and "source says:" in text


def test_context_keeps_the_figures_for_the_caller_to_draw(tmp_path):
    """``Context(figures=True)`` keeps each figure a section makes; ``figure(name, fig)`` draws it onto the caller's
    figure (or a new pyplot-free one); the --plot files stay as they were."""
    pytest.importorskip("matplotlib")
    from fastmlp.apps import demo_seeds
    from fastmlp.apps.demo_base import Context
    from matplotlib.figure import Figure

    plain = Context(quiet=True)
    demo_seeds.step_sweep(plain)
    assert plain.figures == {} and not plain.wants_figures
    ctx = Context(quiet=True, figures=True, plot_dir=str(tmp_path))
    rows = demo_seeds.step_sweep(ctx)
    assert [r.source for r in rows] == ["002", "002"] and list(ctx.figures) == ["derivatives_delta"]
    assert ctx.plots == [str(tmp_path / "derivatives_delta.png")] and os.path.getsize(ctx.plots[0]) > 10_000
    fig = ctx.figure("derivatives_delta")
    assert isinstance(fig, Figure) and fig.canvas.manager is None and fig.axes[0].get_xscale() == "log"
    mine = Figure()
    assert ctx.figure("derivatives_delta", mine) is mine and len(mine.axes[0].lines) == len(fig.axes[0].lines)
    with pytest.raises(KeyError, match="no figure 'nope' kept; kept: derivatives_delta"):
        ctx.figure("nope")
