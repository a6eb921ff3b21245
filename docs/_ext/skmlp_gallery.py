"""How the gallery runs skmlp's examples: arguments, figures, order.

sphinx-gallery runs each script of ``examples/`` in the Sphinx process, as
``__main__`` but without a command line, and captures what it prints and
the matplotlib figures left open. skmlp's examples are command-line
programs that save their figures as PNG files and close them, so this
module, named in ``docs/conf.py``'s ``sphinx_gallery_conf``, fills the gaps
without changing the examples:

* :func:`reset_argv` gives each example its command line: ``--quick`` (the
  reduced mode the tests run) where the example has one, the arguments in
  :data:`QUICK_ARGS` where it has not, and ``--output-dir`` pointing into
  ``docs/_build/gallery_output/<example>/`` (or ``--figure`` a file in it,
  for an example that saves one figure). With ``SKMLP_DOCS_GALLERY=full``
  each example runs with its own defaults (the full-size figures; see
  ``docs/README.md``).
* :func:`png_scraper` picks up the PNG files an example wrote into its
  output folder and shows them on the example's page (next to
  sphinx-gallery's own matplotlib scraper, which shows figures an example
  leaves open).
* :func:`reset_example`, run before and after each example: empties the
  output folder before, and makes ``sys.exit(0)`` (``sys.exit(main())``,
  the last line of some examples) end the example instead of the build; a
  non-zero exit fails the example.
* :class:`ExampleOrder`: the order of the gallery.
* :func:`literal_blocks`: the indented command lines and formulas of the
  docstrings shown as literal blocks (``docs/conf.py`` applies it to the
  generated pages as Sphinx reads them).

Every name here is given to sphinx-gallery as a string (``"skmlp_gallery.
reset_argv"``), so that Sphinx can cache its configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
OUTPUT = DOCS / "_build" / "gallery_output"

#: ``SKMLP_DOCS_GALLERY=full`` runs each example at its full size.
FULL = os.environ.get("SKMLP_DOCS_GALLERY", "quick") == "full"

#: Arguments of the examples that have no ``--quick`` mode, for the quick
#: build: a small train_mnist run, the two integrations on their small data
#: sets (scikit-learn's digits, synthetic digits) rather than all of MNIST.
QUICK_ARGS = {
    "train_mnist.py": [
        "--n-train", "6000", "--n-test", "2000", "--epochs", "3",
        "--hidden", "128,64", "--threads", "1",
    ],
    "onnx_export.py": ["--data-dir="],
    "out_of_core_memmap.py": [
        "--data-dir=", "--n-synthetic", "10000", "--epochs", "2", "--dask",
    ],
    # small as it is (a 9-candidate search on scikit-learn's digits, ~15 s)
    "dask_grid_search.py": [],
}  # fmt: skip

#: Arguments of the full build, on top of each example's defaults
#: (``--threads 1``: BLAS threads fighting other jobs over the cores can make
#: an epoch many times slower, see README).
FULL_ARGS = {
    "train_mnist.py": ["--threads", "1"],
    "out_of_core_memmap.py": ["--dask"],
    "dask_grid_search.py": ["--compare"],
}

#: The gallery's order; examples not listed come after, by file name.
ORDER = [
    "train_mnist.py",
    "gradient_check.py",
    "sigmoid_vs_relu.py",
    "initialization.py",
    "first_layer_weights.py",
    "activations_mnist.py",
    "regression.py",
    "robust_regression.py",
    "prediction_intervals.py",
    "imbalanced_classes.py",
    "grid_search_mnist.py",
    "onnx_export.py",
    "out_of_core_memmap.py",
    "dask_grid_search.py",
]

_seen: dict[str, set[str]] = {}  # output folder: PNG files already shown
_exit = sys.exit


def output_dir(src_file) -> Path:
    """The folder an example writes its files to during the build."""
    return OUTPUT / Path(src_file).stem


def example_args(src_file, full: bool = FULL) -> list[str]:
    """The command line (without the program) an example runs with."""
    path = Path(src_file)
    source = path.read_text(encoding="utf-8")
    if full:
        args = list(FULL_ARGS.get(path.name, []))
    elif path.name in QUICK_ARGS:
        args = list(QUICK_ARGS[path.name])
    elif '"--quick"' in source:
        args = ["--quick"]
    else:
        args = []
    if '"--output-dir"' in source:
        args += ["--output-dir", str(output_dir(path))]
    elif '"--figure"' in source:  # a single figure, saved where it is told
        args += ["--figure", str(output_dir(path) / f"{path.stem}.png")]
    return args


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """sphinx-gallery's ``reset_argv``: the example's ``sys.argv[1:]``."""
    src_file = script_vars["src_file"]
    # sphinx-gallery leaves __file__ undefined; some examples find the
    # repository (and the MNIST folder beside it) from it.
    example_globals = script_vars.get("example_globals")
    if example_globals is not None:
        example_globals.setdefault("__file__", str(src_file))
    return example_args(src_file)


def _example_exit(status=None):
    # sys.exit(main()) at the end of an example: main's 0 ends the example;
    # anything else (an argparse error: 2) fails it, as it would a script.
    if status not in (None, 0):
        raise RuntimeError(f"the example exited with status {status!r}")


def reset_example(gallery_conf, fname, when):
    """A ``reset_modules`` entry, run before and after each example."""
    if fname is None:
        return
    if when == "before":
        folder = output_dir(fname)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        _seen[str(folder)] = set()
        sys.exit = _example_exit
    else:
        sys.exit = _exit


def png_scraper(block, block_vars, gallery_conf) -> str:
    """An image scraper: the PNG files the example wrote, in writing order."""
    from sphinx_gallery.scrapers import figure_rst

    folder = output_dir(block_vars["src_file"])
    if not folder.is_dir():
        return ""
    seen = _seen.setdefault(str(folder), set())
    new = [p for p in folder.rglob("*.png") if str(p) not in seen]
    new.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    images = []
    for png in new:
        seen.add(str(png))
        image_path = next(block_vars["image_path_iterator"])
        shutil.copyfile(png, image_path)
        images.append(image_path)
    return figure_rst(images, gallery_conf["src_dir"])


class ExampleOrder:
    """``within_subsection_order``: :data:`ORDER`, then by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        rank = ORDER.index(name) if name in ORDER else len(ORDER)
        return (rank, name)

    def __repr__(self):  # stable, so that Sphinx's cached configuration is too
        return f"<{type(self).__name__}>"


_LIST_ITEM = re.compile(r"^([*+-]|\d+[.)]|#\.|\(\d+\))\s")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
_GENERATED = ".. GENERATED FROM PYTHON SOURCE LINES"


def literal_blocks(text: str) -> str:
    """Show the indented blocks of an example's docstring as they are written.

    The examples' docstrings indent command lines and formulas by four
    spaces after a plain paragraph or a section title, which reads well in a
    terminal; in reStructuredText that is a block quote, whose lines run
    together. Such a block becomes a literal block (an ``::`` paragraph is
    put before it). Blocks after a list item, a directive or a paragraph that
    already ends with ``::`` are left alone. Only the docstring part of a
    gallery page (before the first code block) is changed.
    """
    head, marker, tail = text.partition(_GENERATED)
    lines = head.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        starts_block = line.startswith("    ") and line.strip() and i > 0
        if starts_block:
            previous = lines[i - 1]
            if _UNDERLINE.match(previous):
                out += ["", "::", ""]
            elif not previous.strip() and _after_plain_paragraph(lines, i - 1):
                out += ["::", ""]
        out.append(line)
    return "\n".join(out) + marker + tail


def _after_plain_paragraph(lines: list[str], blank: int) -> bool:
    """Whether the paragraph above line ``blank`` is plain text at indent 0."""
    end = blank - 1
    while end >= 0 and not lines[end].strip():
        end -= 1
    if end < 0 or lines[end].startswith(" "):
        return False
    if _UNDERLINE.match(lines[end]):
        return True  # a section title
    start = end
    while start > 0 and lines[start - 1].strip():
        start -= 1
    first = lines[start]
    if _LIST_ITEM.match(first) or first.startswith(".. "):
        return False
    if lines[end].rstrip().endswith("::"):
        return False
    return all(not line.startswith(" ") for line in lines[start : end + 1])


def source_read(app, docname, source):
    """Sphinx's ``source-read``: :func:`literal_blocks` on the gallery pages."""
    if docname.startswith("auto_examples/") and docname != "auto_examples/index":
        source[0] = literal_blocks(source[0])
