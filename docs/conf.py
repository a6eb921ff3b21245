"""Sphinx configuration of skmlp's documentation site.

Build it (warnings are errors; 1-2 minutes on 2 cores, see docs/README.md)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

No network is used: the API reference comes from the docstrings (numpydoc),
the Markdown pages are read by myst-parser, and sphinx-gallery runs the
examples, reading MNIST from ``SKMLP_DATA_DIR`` (default: the
``shared/data/mnist`` folder beside the repository, as for the tests).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

import skmlp_gallery  # noqa: E402  (docs/_ext)

import skmlp  # noqa: E402

# -- MNIST, read from disk only ----------------------------------------------
# The examples read SKMLP_DATA_DIR; without it they would download MNIST.
if not os.environ.get("SKMLP_DATA_DIR"):
    os.environ["SKMLP_DATA_DIR"] = str(ROOT.parent / "shared" / "data" / "mnist")
_mnist = Path(os.environ["SKMLP_DATA_DIR"])
_plot_gallery = True
for _arg in sys.argv:  # -D plot_gallery=0 builds without running the examples
    if _arg.removeprefix("-D") in ("plot_gallery=0", "plot_gallery=False"):
        _plot_gallery = False
if _plot_gallery and not (_mnist / "train-images-idx3-ubyte.gz").is_file():
    raise RuntimeError(
        f"docs: the gallery runs the examples on MNIST, read from "
        f"SKMLP_DATA_DIR={_mnist}, which does not hold the four IDX files. Set "
        f"SKMLP_DATA_DIR to the folder holding them, or build without running "
        f"the examples: python -m sphinx -W -b html -D plot_gallery=0 docs "
        f"docs/_build/html"
    )

# -- Project -------------------------------------------------------------------
project = "skmlp"
author = "the skmlp developers"
copyright = "the skmlp developers"  # noqa: A001
release = skmlp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",  # how to build these pages, for the repository's readers
    "**/sg_execution_times.rst",
]

# A reference that does not resolve is a warning, and -W makes it an error.
# Names outside skmlp resolve nowhere here (no intersphinx: the build is
# offline), and skmlp's private modules have no pages: both are ignored.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|numpy|np|scipy|joblib|matplotlib|skl2onnx|onnx|dask|"
     r"dask_ml|distributed|onnxruntime|skops|threadpoolctl)(\..*)?"),
    (r"py:.*", r"skmlp\._.*"),
]  # fmt: skip

# -- autodoc, autosummary, numpydoc ------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections say the types
autodoc_member_order = "bysource"
# skmlp.onnx needs skl2onnx and onnx, which only the onnx extra installs.
autodoc_mock_imports = [
    name for name in ("skl2onnx", "onnx") if importlib.util.find_spec(name) is None
]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Docstring checks that fail the build (under -W): an unknown section (a
# misspelt "Parameters"), an object without a docstring, a parameter left
# undocumented or documented but not in the signature, a malformed
# "name : type" line. The stylistic checks (summary punctuation, See Also,
# Examples everywhere) are off.
numpydoc_validation_checks = {"GL06", "GL08", "PR01", "PR02", "PR10"}
numpydoc_validation_exclude = {r"\.__init__$"}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out the methods estimators inherit from scikit-learn.

    ``get_params``, ``set_params``, ``score``, ``fit_transform``,
    ``set_output``, ``set_callbacks`` and the metadata-routing ``set_*_request``
    methods are scikit-learn's, documented there; the class pages say so.
    """
    if what != "class" or skip:
        return skip
    module = getattr(obj, "__module__", None) or ""
    if isinstance(obj, property):
        module = getattr(obj.fget, "__module__", "") or ""
    if module and not module.startswith("skmlp"):
        return True
    return None


def _example_names(docname: str) -> set[str]:
    """Top-level functions, classes and names of the example behind a page."""
    import ast

    source = ROOT / "examples" / (docname.split("/", 1)[1] + ".py")
    if not source.is_file():
        return set()
    names = set()
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _allow_example_names(app, domain, node):
    """An example's docstring may name its own functions (``:func:`main```).

    They have no page of their own; such a reference is shown as text
    instead of failing the build. Any other broken reference still fails.
    """
    docname = node.get("refdoc", "")
    if (
        domain is None
        or domain.name != "py"
        or not docname.startswith("auto_examples/")
    ):
        return None
    if node.get("reftarget", "").lstrip("~.") in _example_names(docname):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("warn-missing-reference", _allow_example_names)
    app.connect("source-read", skmlp_gallery.source_read)


# -- myst-parser ---------------------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# -- sphinx-gallery ----------------------------------------------------------
# Examples whose optional extra is not installed are shown without running.
_needs = {
    "onnx_export.py": ("skl2onnx", "onnxruntime"),
    "out_of_core_memmap.py": ("dask_ml",),  # runs with --dask
    "dask_grid_search.py": ("distributed",),
}
_not_run = [
    name
    for name, modules in _needs.items()
    if any(importlib.util.find_spec(module) is None for module in modules)
]
_not_run_pattern = "|".join(name.replace(".", r"\.") for name in _not_run)

sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    # every example runs (not only plot_*.py), but those whose extra is missing
    "filename_pattern": (rf"^(?!.*({_not_run_pattern})$).*" if _not_run else r".*"),
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "skmlp_gallery.reset_argv",
    "reset_modules": ("matplotlib", "skmlp_gallery.reset_example"),
    "reset_modules_order": "both",
    "image_scrapers": ("matplotlib", "skmlp_gallery.png_scraper"),
    "within_subsection_order": "skmlp_gallery.ExampleOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmlp {release}"
html_static_path = ["_static"]
html_css_files = ["skmlp.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_show_sourcelink = True
