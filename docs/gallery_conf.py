"""The sphinx-gallery configuration of the documentation (``docs/conf.py`` imports it): the gallery of the five
source documents, ``docs/gallery`` (one sub-folder per source), built into ``docs/auto_examples``. Every script runs
at build time (the verdicts printed on the pages are the ones measured then); an example that fails stops the build.

The scripts' folder lies inside docs/: ``conf.py`` adds ``GALLERY_EXCLUDE`` to its ``exclude_patterns``, else Sphinx
would also read the folders' README.rst (the gallery's index texts) as pages of their own.
"""
GALLERY_EXCLUDE = ["gallery"]

sphinx_gallery_conf = {
    "examples_dirs": "gallery",                 # relative to docs/
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",              # every plot_ script runs
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "line_numbers": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": (),                         # the scripts print what they show; no stray reprs
}
