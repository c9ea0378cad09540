"""The package's layers import only downward: read every module's source with ``ast`` (nothing is imported), build
the graph of imports inside ``fastmlp`` and fail on a cycle, on an import of a higher layer, and on an import inside
a function body (only optional extras may be imported lazily). Also: no hand-written module over 500 lines.

Layers, low to high (a module may import any lower layer, and its own layer where that makes no cycle):
  0  fastmlp.vocabulary, fastmlp.errors (and the oracle, fastmlp.reference, which stands alone)
  1  fastmlp._core (compiled: the imports of its .pyx and the .pxi files it includes)
  2  the library: every other top-level module, itself in ranks (LIBRARY): validation, extras, _guard, _typing, info,
     schedules, modelfile -> optimizers, network -> training, export -> fitting -> mlp
  3  fastmlp.estimators, fastmlp.interop, fastmlp.regions and fastmlp.regions.*
  4  fastmlp.apps.*
  5  fastmlp (its __init__) and fastmlp.__main__: the top, may import anything
"""
import ast
import importlib.util
import os
import re
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYER_NAMES = {0: "vocabulary", 1: "core", 2: "library", 3: "on the library", 4: "apps", 5: "top"}
LAYERS = {"fastmlp.vocabulary": 0, "fastmlp.errors": 0, "fastmlp.reference": 0, "fastmlp._core": 1,
          "fastmlp.estimators": 3, "fastmlp.interop": 3, "fastmlp.regions": 3, "fastmlp.apps": 4,
          "fastmlp": 5, "fastmlp.__main__": 5}

# inside the library (layer 2), in turn: each module builds only on those of a lower rank (or its own, without a
# cycle); a new library module must be given its rank here
LIBRARY = {"fastmlp.validation": 0, "fastmlp.atomic": 0, "fastmlp.extras": 0, "fastmlp._guard": 0, "fastmlp._typing": 0, "fastmlp.info": 0,
           "fastmlp.schedules": 0, "fastmlp.modelfile": 0,
           "fastmlp.optimizers": 1, "fastmlp.network": 1,
           "fastmlp.training": 2, "fastmlp.export": 2, "fastmlp.lbfgs": 2, "fastmlp.derivatives": 2,
           "fastmlp.numcheck": 2,
           "fastmlp.fitting": 3, "fastmlp.mlp": 4}

# optional extras: imported inside the function that needs them, so that `import fastmlp` does not pay for them
LAZY_OK = {"matplotlib", "scipy", "sklearn", "tqdm", "torch", "onnx", "onnxruntime", "dask", "distributed",
           "dask_ml", "pandas", "PIL", "threadpoolctl", "shap", "mlxtend"}
# fastmlp's own modules that import an optional extra at their top (scikit-learn): loaded on first use too
LAZY_INTERNAL = {"fastmlp.estimators", "fastmlp.apps.bench_sklearn"}
MAX_LINES = 500
SOURCES = (".py", ".pyx", ".pxi", ".pxd")
GENERATED = re.compile(r"generated (by|from|with)|do not edit", re.I)


def layer(module):
    """The layer of a module: its own entry, else its nearest package's (below ``fastmlp``), else 2 (the library)."""
    name = module
    while "." in name:
        if name in LAYERS:
            return LAYERS[name]
        name = name.rpartition(".")[0]
    return LAYERS.get(module, 2)


# ---- reading the package -------------------------------------------------------------------------------------
def package_files(pkg_dir, pkg="fastmlp"):
    """{module name: [files]} for every module of the package at pkg_dir. A package's __init__.py is the package
    (``fastmlp.regions``); ``_core``'s .pyx and the .pxi files it includes are one module; the source tree's
    top-level ``reference/`` is ``fastmlp.reference``, as in the wheel."""
    out = {}
    roots = [(pkg_dir, pkg)]
    sibling_reference = os.path.join(os.path.dirname(pkg_dir), "reference")
    if pkg == "fastmlp" and not os.path.isdir(os.path.join(pkg_dir, "reference")) \
            and os.path.isfile(os.path.join(sibling_reference, "__init__.py")):
        roots.append((sibling_reference, "fastmlp.reference"))
    for top, top_name in roots:
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py")))
            rel = os.path.relpath(folder, top)
            base = top_name if rel == "." else top_name + "." + rel.replace(os.sep, ".")
            for f in sorted(files):
                stem, ext = os.path.splitext(f)
                if ext == ".py":
                    name = base if stem == "__init__" else f"{base}.{stem}"
                elif ext in (".pyx", ".pxi"):  # _core.pyx includes _core_*.pxi: all one compiled module
                    name = f"{base}.{stem.split('_core_')[0] + '_core' if stem.startswith('_core_') else stem}"
                else:
                    continue
                out.setdefault(name, []).append(os.path.join(folder, f))
    return out


class Import:
    """One import statement's view of one intra-package module (or an outside top-level name)."""

    def __init__(self, source, target, path, line, text, in_function, guarded):
        self.source, self.target, self.path, self.line, self.text = source, target, path, line, text
        self.in_function, self.guarded = in_function, guarded

    def where(self):
        return f"{os.path.relpath(self.path, ROOT) if self.path.startswith(ROOT) else self.path}:{self.line}"

    def __repr__(self):
        return f"{self.where()}: {self.source} -> {self.target} ({self.text!r})"


def _is_package(module, modules):
    return any(m.startswith(module + ".") for m in modules)


def _resolve(importer, is_package, level, module):
    """Absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module
    parts = importer.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _targets(importer, name, modules):
    """The package modules that importing ``name`` runs: the module and every package above it that the importer
    is not already inside (``fastmlp`` itself is above everything)."""
    out = []
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix in modules and not (importer == prefix or importer.startswith(prefix + ".")):
            out.append(prefix)
    if name in modules and name not in out and name != importer:
        out.append(name)
    return out


def _parse_python(text, path):
    tree = ast.parse(text, filename=path)
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child._parent = node
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, ast.get_source_segment(text, node) or ast.unparse(node)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            fname = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if fname in ("import_module", "__import__"):  # importlib.import_module("fastmlp.x"): an import too
                imp = ast.Import(names=[ast.alias(name=node.args[0].value)], lineno=node.lineno)
                imp._parent = node
                yield imp, ast.get_source_segment(text, node) or ast.unparse(node)


def _context(node):
    """(inside a function body?, name of the enclosing function, under `if TYPE_CHECKING`?)"""
    in_function, func, guarded = False, None, False
    parent = getattr(node, "_parent", None)
    while parent is not None:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not in_function:
                func = getattr(parent, "name", "<lambda>")
                in_function = True
            elif isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                func = None  # nested deeper than a module-level function
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            guarded = True
        parent = getattr(parent, "_parent", None)
    return in_function, func, guarded


_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+(c?import)\s+(.+)|(c?import)\s+([\w.]+(?:\s*,\s*[\w.]+)*))")


def _parse_cython(text):
    """The Python-level imports of a .pyx/.pxi (cimports are compile-time declarations, not imports)."""
    for n, raw in enumerate(text.splitlines(), 1):
        m = _CYTHON_IMPORT.match(raw)
        if not m or (m.group(2) or m.group(4)) == "cimport":
            continue
        src = raw.strip()
        if m.group(1) is not None:
            mod = m.group(1)
            level = len(mod) - len(mod.lstrip("."))
            names = [a.strip(" ()\\").split(" as ")[0].strip() for a in m.group(3).split(",")]
            yield ast.ImportFrom(module=mod.lstrip(".") or None, level=level,
                                 names=[ast.alias(name=a) for a in names if a], lineno=n), src
        else:
            yield ast.Import(names=[ast.alias(name=a.strip()) for a in m.group(5).split(",")], lineno=n), src


def read_imports(files):
    """Every import statement of the package, as Import records, and the list of files that did not parse."""
    modules = set(files)
    out, broken = [], []
    for module, paths in files.items():
        is_pkg = any(os.path.basename(p) == "__init__.py" for p in paths)
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            if path.endswith(".py"):
                try:
                    nodes = list(_parse_python(text, path))
                except SyntaxError as exc:
                    broken.append(f"{path}: {exc}")
                    continue
            else:
                nodes = list(_parse_cython(text))
            for node, src in nodes:
                in_function, func, guarded = _context(node) if path.endswith(".py") else (False, None, False)
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    base = _resolve(module, is_pkg, node.level, node.module)
                    for a in node.names:  # `from pkg import sub` imports the submodule pkg.sub
                        sub = f"{base}.{a.name}"
                        names.append(sub if sub in modules else base)
                for name in dict.fromkeys(names):
                    targets = _targets(module, name, modules) if name.split(".")[0] == "fastmlp" else []
                    for target in targets or [name]:
                        rec = Import(module, target, path, node.lineno, src, in_function, guarded)
                        rec.function = func
                        rec.internal = bool(targets)
                        out.append(rec)
    return out, broken


# ---- the rules -----------------------------------------------------------------------------------------------
def cycles(imports):
    """Strongly connected components of the intra-package graph with more than one module (or a self-import),
    each as a list of the imports that close it."""
    graph = {}
    for imp in imports:
        if imp.internal and not imp.guarded:
            graph.setdefault(imp.source, {}).setdefault(imp.target, imp)
            graph.setdefault(imp.target, {})
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # Tarjan, iteratively deep enough for a package's modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [[graph[a][b] for a in comp for b in sorted(graph[a]) if b in comp] for comp in comps]


def upward(imports):
    return [imp for imp in imports if imp.internal and layer(imp.target) > layer(imp.source)]


def in_functions(imports):
    """Imports inside a function body, except optional extras and a package __init__'s module-level __getattr__
    (PEP 562: the package loads a submodule on first use, e.g. the scikit-learn estimators)."""
    bad, seen = [], set()
    for imp in imports:
        if not imp.in_function or imp.guarded or (imp.path, imp.line, imp.text) in seen:
            continue
        if not imp.internal and imp.target.split(".")[0] in LAZY_OK:
            continue
        if imp.internal and imp.target in LAZY_INTERNAL:
            continue
        if imp.internal and imp.function == "__getattr__" and os.path.basename(imp.path) == "__init__.py":
            continue
        seen.add((imp.path, imp.line, imp.text))
        bad.append(imp)
    return bad


def describe(imp):
    return (f"{imp.where()}: {imp.source} (layer {layer(imp.source)}, {LAYER_NAMES[layer(imp.source)]}) imports "
            f"{imp.target} (layer {layer(imp.target)}, {LAYER_NAMES[layer(imp.target)]}): {imp.text.strip()}")


def long_files(files, limit=MAX_LINES):
    """(lines, path) of the hand-written sources over the limit (a file saying it is generated is skipped)."""
    out = []
    for paths in files.values():
        for path in paths:
            if not path.endswith(SOURCES):
                continue
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            if GENERATED.search("\n".join(text.splitlines()[:5])):
                continue
            n = len(text.splitlines())
            if n > limit:
                out.append((n, path))
    return sorted(out, reverse=True)


# ---- the package under test ----------------------------------------------------------------------------------
def _package_dir():
    # the fastmlp this session imports (the source tree or the installed one, see the root conftest.py), located
    # without importing it: the layering is read from the sources, even while they do not import
    spec = importlib.util.find_spec("fastmlp")
    assert spec is not None and spec.submodule_search_locations, "fastmlp not found"
    return list(spec.submodule_search_locations)[0]


@pytest.fixture(scope="module")
def package():
    files = package_files(_package_dir())
    imports, broken = read_imports(files)
    assert not broken, "modules that do not parse:\n" + "\n".join(broken)
    return files, imports


def _fail(title, lines):
    if lines:
        pytest.fail(f"{title} ({len(lines)}):\n  " + "\n  ".join(lines), pytrace=False)


def test_the_package_is_read(package):
    files, imports = package
    assert {"fastmlp", "fastmlp._core", "fastmlp.vocabulary", "fastmlp.errors", "fastmlp.apps.main"} <= set(files)
    assert any(i.internal for i in imports)


def test_no_import_cycles(package):
    _, imports = package
    found = cycles(imports)
    _fail("import cycles inside fastmlp (each a set of modules that import one another, with the imports)",
          [" <-> ".join(sorted({i.source for i in c})) + "\n    " + "\n    ".join(map(repr, c)) for c in found])


def test_imports_point_downward(package):
    _, imports = package
    _fail("upward imports (a lower layer importing a higher one)", [describe(i) for i in upward(imports)])


def test_the_library_imports_downward_inside_itself(package):
    files, imports = package
    _fail("library modules without a rank in LIBRARY", sorted(m for m in files if layer(m) == 2 and m not in LIBRARY))
    _fail("library imports against the library's own order (validation ... -> optimizers, network -> training, "
          "export -> mlp)",
          [f"{i.where()}: {i.source} (rank {LIBRARY[i.source]}) imports {i.target} (rank {LIBRARY[i.target]})"
           for i in imports if i.internal and i.source in LIBRARY and i.target in LIBRARY
           and LIBRARY[i.target] > LIBRARY[i.source]])


def test_no_imports_inside_functions(package):
    _, imports = package
    bad = in_functions(imports)
    _fail(f"imports inside function bodies (move them to the top of the module; only optional extras "
          f"{sorted(LAZY_OK)} may be imported lazily)",
          [f"{i.where()}: {i.source}, in {i.function or 'a nested function'}(): {i.text.strip()}" for i in bad])


def test_hand_written_modules_are_at_most_500_lines(package):
    files, _ = package
    _fail(f"hand-written package files over {MAX_LINES} lines",
          [f"{os.path.relpath(p, ROOT) if p.startswith(ROOT) else p}: {n} lines" for n, p in long_files(files)])


# ---- the checker on a package made to break every rule -------------------------------------------------------
def test_the_checker_finds_what_it_should(tmp_path):
    pkg = tmp_path / "fastmlp"
    src = {
        "__init__.py": "from .mlp import MLP\n\ndef __getattr__(name):\n    from . import estimators\n",
        "vocabulary.py": "import os\n",
        "errors.py": "from .vocabulary import *\n",
        "mlp.py": "from . import errors, training\nfrom .estimators import Est\n"
                  "def f():\n    import scipy.linalg\n    from .schedules import cosine\n",
        "training.py": "import fastmlp.mlp\n",
        "schedules.py": "from fastmlp import vocabulary\n",
        "estimators.py": "from .mlp import MLP\nimport importlib\nclass Est:\n"
                         "    def fit(self):\n        importlib.import_module('fastmlp.apps.cli')\n",
        "_core.pyx": "include \"_core_net.pxi\"\nfrom .errors import DivergenceError\n",
        "_core_net.pxi": "from libc.string cimport memcpy\nfrom .mlp import MLP  # upward\n",
        "apps/__init__.py": "",
        "apps/cli.py": "from ..regions.cells import c\nfrom .. import build_info\n",
        "regions/__init__.py": "from .cells import c\n",
        "regions/cells.py": "from ..network import Net\nfrom . import shallow\n",
        "regions/shallow.py": "from .cells import c\n",
        "network.py": "# generated by a tool\n" + "x = 1\n" * 600,
        "optimizers.py": "y = 1\n" * 501,
    }
    for rel, text in src.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(textwrap.dedent(text))
    files = package_files(str(pkg))
    assert files["fastmlp._core"] == [str(pkg / "_core.pyx"), str(pkg / "_core_net.pxi")]
    imports, broken = read_imports(files)
    assert broken == []
    edges = {(i.source, i.target) for i in imports if i.internal}
    assert {("fastmlp.mlp", "fastmlp.errors"), ("fastmlp.mlp", "fastmlp.training"), ("fastmlp.schedules",
            "fastmlp.vocabulary"), ("fastmlp.apps.cli", "fastmlp.regions"), ("fastmlp.apps.cli",
            "fastmlp.regions.cells"), ("fastmlp.apps.cli", "fastmlp"), ("fastmlp.regions.cells",
            "fastmlp.regions.shallow"), ("fastmlp._core", "fastmlp.errors")} <= edges
    assert ("fastmlp.regions.cells", "fastmlp.regions") not in edges  # its own package is already running
    assert sorted(sorted({i.source for i in c}) for c in cycles(imports)) == [
        # apps.cli uses the package's __init__, which imports mlp, ..., which reaches apps.cli again
        ["fastmlp", "fastmlp.apps.cli", "fastmlp.estimators", "fastmlp.mlp", "fastmlp.training"],
        ["fastmlp.regions.cells", "fastmlp.regions.shallow"]]
    assert sorted((i.source, i.target) for i in upward(imports)) == [
        ("fastmlp._core", "fastmlp.mlp"), ("fastmlp.apps.cli", "fastmlp"), ("fastmlp.estimators", "fastmlp.apps"),
        ("fastmlp.estimators", "fastmlp.apps.cli"), ("fastmlp.mlp", "fastmlp.estimators")]
    assert sorted((i.source, i.text) for i in in_functions(imports)) == [
        ("fastmlp.estimators", "importlib.import_module('fastmlp.apps.cli')"),
        ("fastmlp.mlp", "from .schedules import cosine")]
    up = next(i for i in upward(imports) if i.source == "fastmlp.mlp")
    assert describe(up) == (f"{pkg / 'mlp.py'}:2: fastmlp.mlp (layer 2, library) imports fastmlp.estimators "
                            "(layer 3, on the library): from .estimators import Est")
    assert [os.path.basename(p) for _, p in long_files(files)] == ["optimizers.py"]
