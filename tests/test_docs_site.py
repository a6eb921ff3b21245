"""The documentation site's sources stay complete, without building them.

The site itself is built by ``python -m sphinx -W -b html docs
docs/_build/html`` (CI's main pass; docs/README.md). These checks need no
Sphinx, so they run in every pass:

* every public name (``skmlp.__all__`` and each public submodule's
  ``__all__``, or its public functions and classes) has an entry in the API
  reference (``docs/*.rst``: an ``autosummary`` list or an ``auto*``
  directive under the right ``module``/``currentmodule``);
* README links to the docs, its links resolve, and it gives the build
  command;
* the README sections the guide includes (``{include}`` with
  ``start-after``/``end-before`` markers) have their markers;
* every example has the title the gallery needs, and a quick mode for the
  gallery to run.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "skmlp"
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
BUILD_COMMAND = "python -m sphinx -W -b html docs docs/_build/html"

# Directives that document one object, and those that set the module.
OBJECT_DIRECTIVE = re.compile(
    r"^\.\. (?:auto)?(?:class|function|exception|data|attribute|method)::\s+(\S+)"
)
MODULE_DIRECTIVE = re.compile(r"^\.\. (?:module|currentmodule|automodule)::\s+(\S+)")
AUTOSUMMARY = re.compile(r"^\.\. autosummary::")


def _module_tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return None


def _public_definitions(tree: ast.Module) -> list[str]:
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        and not node.name.startswith("_")
    ]


def public_submodules() -> list[str]:
    return sorted(
        path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("_")
    )


@cache
def reexported() -> dict[str, str]:
    """``{"gradcheck.check_gradients": "check_gradients"}``: what __init__ imports."""
    names = {}
    for node in _module_tree(PACKAGE / "__init__.py").body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                names[f"{node.module}.{alias.name}"] = alias.asname or alias.name
    return names


def public_names() -> list[str]:
    """Every public name, fully qualified (``skmlp.datasets.load_mnist``)."""
    names = [f"skmlp.{n}" for n in _declared_all(_module_tree(PACKAGE / "__init__.py"))]
    for module in public_submodules():
        tree = _module_tree(PACKAGE / f"{module}.py")
        declared = _declared_all(tree)
        for name in declared if declared is not None else _public_definitions(tree):
            names.append(f"skmlp.{module}.{name}")
    return names


@cache
def documented() -> tuple[frozenset[str], frozenset[str]]:
    """The objects and the modules the API reference's .rst files document."""
    objects, modules = set(), set()
    sources = [p for p in DOCS.glob("**/*.rst") if not _generated(p)]
    for path in sources:
        module = None
        in_autosummary = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := MODULE_DIRECTIVE.match(line):
                module = match.group(1)
                modules.add(module)
                in_autosummary = False
            elif match := OBJECT_DIRECTIVE.match(line):
                objects.add(_qualify(match.group(1), module))
                in_autosummary = False
            elif AUTOSUMMARY.match(line):
                in_autosummary = True
            elif in_autosummary:
                entry = line.strip()
                if line and not line.startswith(" "):
                    in_autosummary = False  # the directive's body has ended
                elif entry and not entry.startswith(":"):
                    objects.add(_qualify(entry.lstrip("~"), module))
    return frozenset(objects), frozenset(modules)


def _generated(path: Path) -> bool:
    relative = path.relative_to(DOCS).parts
    return relative[0] in ("_build", "auto_examples", "gen_modules", "_templates")


def _qualify(name: str, module: str | None) -> str:
    if name.startswith("skmlp.") or module is None:
        return name
    return f"{module}.{name}"


def test_the_api_reference_was_found():
    # If nothing were parsed, every name test below would fail with a
    # misleading message; say so first.
    objects, modules = documented()
    assert "skmlp.NumpyMLPClassifier" in objects, sorted(objects)
    assert len(public_names()) >= 10


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_is_in_the_api_reference(name):
    objects, _ = documented()
    module_and_name = name.removeprefix("skmlp.")
    alias = reexported().get(module_and_name)
    assert name in objects or (alias and f"skmlp.{alias}" in objects), (
        f"{name} is public but has no entry in the API reference: add it to "
        f"docs/api.rst (an autosummary list under '.. currentmodule:: "
        f"{name.rsplit('.', 1)[0]}', or an autodata/autoclass directive)"
    )


@pytest.mark.parametrize("module", public_submodules())
def test_every_public_module_is_in_the_api_reference(module):
    _, modules = documented()
    assert f"skmlp.{module}" in modules, (
        f"skmlp.{module} is a public module with no section in docs/api.rst "
        f"(add '.. automodule:: skmlp.{module}' and its names)"
    )


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_gives_the_docs_build_command():
    assert BUILD_COMMAND in readme()
    assert 'pip install -e ".[docs]"' in readme()


def test_readme_links_to_the_docs_and_its_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", readme())
    local = [t.split("#")[0] for t in links if not re.match(r"[a-z]+:", t)]
    local = [t for t in local if t]
    assert any(t.startswith("docs/") for t in local), "README links to no docs page"
    for target in local:
        assert (ROOT / target).exists(), f"README links to missing {target}"
    for page in ("docs/getting_started.md", "docs/user_guide/index.md"):
        assert page in local, f"README does not link to {page}"


INCLUDE = re.compile(r"```\{include\}\s+(\S+)\n((?::[\w-]+:.*\n)*)", re.MULTILINE)


def includes() -> list[tuple[str, str, str, str]]:
    """(page, included file, start-after, end-before) of every include."""
    found = []
    for page in DOCS.glob("**/*.md"):
        if _generated(page):
            continue
        for target, options in INCLUDE.findall(page.read_text(encoding="utf-8")):
            opts = dict(re.findall(r"^:([\w-]+):\s*(.*)$", options, re.MULTILINE))
            found.append(
                (
                    str(page.relative_to(ROOT)),
                    str((page.parent / target).resolve().relative_to(ROOT)),
                    opts.get("start-after", ""),
                    opts.get("end-before", ""),
                )
            )
    return sorted(found)


def test_the_guide_includes_readme_sections():
    pages = {page for page, target, _, _ in includes() if target == "README.md"}
    for page in (
        "docs/user_guide/beyond.md",
        "docs/user_guide/differences.md",
        "docs/getting_started.md",
    ):
        assert page in pages, f"{page} no longer includes its README section"


@pytest.mark.parametrize(("page", "target", "start", "end"), includes())
def test_include_markers_are_in_place(page, target, start, end):
    text = (ROOT / target).read_text(encoding="utf-8")
    for marker in (start, end):
        if marker:
            assert text.count(marker) == 1, (
                f"{page} includes {target} from the marker {marker!r}, which "
                f"{target} holds {text.count(marker)} times (must be once): "
                f"put it back where the section starts or ends"
            )
    if start and end:
        assert text.index(start) < text.index(end), f"{page}: markers out of order"
        section = text[text.index(start) + len(start) : text.index(end)]
        assert section.strip(), f"{page}: nothing between {start!r} and {end!r}"


def examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", examples())
def test_each_example_has_a_gallery_title(name):
    # sphinx-gallery takes a page's title from the docstring's first line,
    # which must be underlined (reStructuredText) to be a title.
    docstring = ast.get_docstring(_module_tree(EXAMPLES / name), clean=False) or ""
    lines = docstring.splitlines()
    assert len(lines) >= 2 and lines[0].strip(), f"{name}: no docstring title"
    assert re.fullmatch(r"=+", lines[1]) and len(lines[1]) >= len(lines[0]), (
        f"examples/{name}: underline the docstring's first line with '=' "
        f"(at least as long as the line) so that the docs' gallery has a title "
        f"for it"
    )


@cache
def gallery():
    spec = importlib.util.spec_from_file_location(
        "skmlp_gallery", DOCS / "_ext" / "skmlp_gallery.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", examples())
def test_the_gallery_runs_each_example_in_a_quick_mode(name):
    # The docs build runs every example; it stays within minutes because each
    # runs reduced: its own --quick, or arguments listed in the gallery.
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    assert '"--quick"' in source or name in gallery().QUICK_ARGS, (
        f"examples/{name} has no --quick mode, so the docs' gallery would run it "
        f"at full size: give it one, or list small arguments for it in "
        f"QUICK_ARGS in docs/_ext/skmlp_gallery.py"
    )
    args = gallery().example_args(EXAMPLES / name, full=False)
    if '"--output-dir"' in source:
        assert args[-2] == "--output-dir"


def test_the_gallery_lists_only_existing_examples():
    names = set(examples())
    listed = set(gallery().QUICK_ARGS) | set(gallery().FULL_ARGS) | set(gallery().ORDER)
    assert listed <= names, f"docs/_ext/skmlp_gallery.py names {listed - names}"


def test_indented_docstring_blocks_become_literal_blocks():
    text = (
        "Title\n=====\n\nHow to run\n----------\n    python a.py --quick\n\n"
        "A formula,\n\n    y = f(x)\n\n* a list item\n\n    its quote\n\n"
        "Code::\n\n    x = 1\n.. GENERATED FROM PYTHON SOURCE LINES 1-2\n\n    z\n"
    )
    out = gallery().literal_blocks(text)
    assert "----------\n\n::\n\n    python a.py --quick" in out
    assert "A formula,\n\n::\n\n    y = f(x)" in out
    assert "* a list item\n\n    its quote" in out
    assert "Code::\n\n    x = 1" in out
    assert out.endswith("LINES 1-2\n\n    z\n")
