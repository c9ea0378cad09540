"""Sphinx configuration of fastmlp's documentation.

Build (offline, warnings as errors): ``pip install ".[docs]" && sphinx-build -W --keep-going -b html docs
docs/_build/html``. The fastmlp documented is the one Python imports: the installed package, or a source tree with
an in-place build (``python setup.py build_ext --inplace``) when it is on ``PYTHONPATH`` or nothing is installed.
"""
import builtins
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # gallery_conf (the examples gallery's settings)
sys.path.insert(0, os.path.join(HERE, "_ext"))  # the C API page's extension

if importlib.util.find_spec("fastmlp") is None:  # not installed: the source tree's in-place build
    sys.path.insert(0, ROOT)

import fastmlp  # noqa: E402


def _tree_reference():
    """In a source tree the oracle is the top-level ``reference/``; installed it is ``fastmlp.reference``."""
    if importlib.util.find_spec("fastmlp.reference") is not None:
        return
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__))), "reference")

    class _TreeReference:
        def find_spec(self, name, path=None, target=None):
            if name != "fastmlp.reference":
                return None
            return importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                          submodule_search_locations=[folder])

    sys.meta_path.insert(0, _TreeReference())


_tree_reference()

from gallery_conf import sphinx_gallery_conf  # noqa: E402

# offline: sphinx-gallery's computation-times pages load jQuery and DataTables from CDNs; leave them out
sphinx_gallery_conf = dict(sphinx_gallery_conf, write_computation_times=False)

project = "fastmlp"
author = "the fastmlp developers"
copyright = "the fastmlp developers, MIT license"
release = version = fastmlp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax shipped with the site (_static/mathjax): formulas render offline
    "numpydoc",
    "myst_parser",  # the user guide's pages are Markdown (docs/guide/*.md)
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",  # figures drawn at build time (the index's)
    "c_header",  # docs/_ext/c_header.py: the C API page, parsed from csrc/fastmlp.h at build time
]

# offline: no intersphinx; MathJax comes with the site (sphinx-mathjax-offline copies it into _static/mathjax), so
# the pages name no outside resource at all (tests/test_docs.py checks)
templates_path = ["_templates"]
exclude_patterns = ["_build", "gallery", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "**.md5", "**.pickle"]
root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["fastmlp.css"]
html_theme_options = {
    "description": "MLPs on the CPU: C kernels, Cython wrappers, a pure-Python oracle",
    "fixed_sidebar": True,
    "show_relbars": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_show_sourcelink = False

plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False
plot_include_source = False

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types
autodoc_inherit_docstrings = True
add_module_names = False

numpydoc_show_class_members = False  # the class template lists methods and attributes (autosummary pages)
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# numpydoc validation, enforced by the build (-W turns these into errors) on every object the API reference
# documents (the regular expressions below leave out what is not ours: scikit-learn's inherited methods)
numpydoc_validation_checks = {
    "GL08",  # the object has a docstring
    "SS01",  # it has a one-line summary
    "PR01",  # every parameter is documented
    "PR02",  # no documented parameter that the signature does not have
    "PR03",  # parameters documented in the signature's order
    "RT01",  # a Returns (or Yields) section where the function returns something
}
numpydoc_validation_exclude = {
    r"\.__init__$",
    r"^sklearn\.",
    # made by the library, never by users: their constructors' arguments are internal (their attributes are
    # described in the class docstring)
    r"^fastmlp\.regions\.(Regions|Pieces1D|Boundary|RegionBudgetError)$",
    # the oracle's whole-network twins: their arguments (14-19 each) are the C functions', documented once on the C
    # API page (reference/mlp.py's module docstring says so), not repeated
    r"^fastmlp\.reference\.mlp_",
}

nitpicky = False
suppress_warnings = []


# the protocol between a model and its optimizer (MLP calls these; users set options and read state and step_count)
OPTIMIZER_PROTOCOL = {"adopt", "bind", "check_free", "config", "restore", "retire", "revive", "snapshot",
                      "set_options", "set_lr"}


def _skip_foreign(app, what, name, obj, skip, options):
    """Leave out members a fastmlp class inherits from outside fastmlp (scikit-learn's get_params, dict's keys,
    ...) and the optimizers' model protocol."""
    owner = getattr(obj, "__objclass__", None)  # methods and attributes of built-in types (dict.keys, ...)
    if owner is not None and owner.__module__ == "builtins":
        return True
    module = getattr(obj, "__module__", None) or getattr(getattr(obj, "fget", None), "__module__", None)
    if module is not None and not str(module).startswith("fastmlp"):
        return True
    qualname = getattr(obj, "__qualname__", "")
    owner_name = qualname.split(".")[0]
    if "." in qualname and isinstance(getattr(builtins, owner_name, None), type):
        return True
    bound_to = getattr(obj, "__self__", None)  # a built-in classmethod (History.fromkeys is dict's)
    if isinstance(bound_to, type) and any(name in vars(base) for base in bound_to.__mro__
                                          if base.__module__ == "builtins"):
        return True
    if qualname.startswith("Optimizer.") and name in OPTIMIZER_PROTOCOL:
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign)
