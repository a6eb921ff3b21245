"""docs/backprop.md stays true to the code it quotes.

The page refers to code in two ways (see its "How to read the code
references" paragraph):

* ``path::name``, anywhere in the text: the file ``path`` (relative to the
  repository root) exists and defines ``name``: a function, a class, a
  method (``Class.method``) or a module-level variable;
* a fenced code block whose header is ``python path::name``: in addition,
  every non-blank line of the block is a line of that definition's source,
  compared with leading and trailing whitespace stripped, and with or
  without the line's trailing comment.

Besides, every relative Markdown link and every mentioned repository file
(``skmlp/...py``, ``examples/...py``, ``tests/...py``) must exist. A renamed
function or an edited formula line then fails here, with a message that
says what to update.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backprop.md"

# `skmlp/_network.py::loss_and_gradient`: a file path, "::", a dotted name.
REFERENCE = re.compile(r"((?:skmlp|examples|tests)/[\w/]+\.py)::([A-Za-z_][\w.]*)")
# ```python skmlp/_network.py::loss_and_gradient  ...lines...  ```
QUOTE_BLOCK = re.compile(
    r"^```python[ \t]+(\S+?)::(\S+)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)
# [text](../skmlp/_network.py): relative link targets
LINK = re.compile(r"\]\(([^)\s]+)\)")
# repository files mentioned in the text
MENTIONED_FILE = re.compile(r"(?<![\w/.])((?:skmlp|examples|tests)/[\w/]+\.py)\b")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


@cache
def parse(path: str) -> tuple[ast.Module, list[str], dict[int, int]]:
    """The module's syntax tree, its lines, and where each line's comment starts.

    The comment columns come from the tokenizer, which knows that a ``#``
    inside a string is not a comment.
    """
    source = (ROOT / path).read_text(encoding="utf-8")
    comment_column = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            comment_column[row] = column
    return ast.parse(source), source.splitlines(), comment_column


def find_definition(tree: ast.Module, dotted_name: str) -> ast.AST | None:
    """The def/class/assignment named ``dotted_name`` (``Class.method`` too)."""
    scope: list[ast.stmt] = tree.body
    node = None
    for part in dotted_name.split("."):
        node = None
        for statement in scope:
            if isinstance(
                statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                if statement.name == part:
                    node = statement
            elif isinstance(statement, ast.Assign):
                names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
                if part in names:
                    node = statement
            elif isinstance(statement, ast.AnnAssign):
                target = statement.target
                if isinstance(target, ast.Name) and target.id == part:
                    node = statement
        if node is None:
            return None
        scope = getattr(node, "body", [])
    return node


def source_lines(path: str, node: ast.AST) -> set[str]:
    """Each line of ``node``'s source, stripped, with and without its comment."""
    _, lines, comment_column = parse(path)
    candidates = set()
    for row in range(node.lineno, node.end_lineno + 1):
        line = lines[row - 1]
        candidates.add(line.strip())
        if row in comment_column:
            candidates.add(line[: comment_column[row]].strip())
    return candidates


def references() -> list[tuple[str, str]]:
    return sorted(set(REFERENCE.findall(doc_text())))


def quote_blocks() -> list[tuple[str, str, str]]:
    return QUOTE_BLOCK.findall(doc_text())


def test_the_page_has_references_and_quotes():
    # If the format changed and nothing matched, every other test would pass
    # for nothing.
    assert len(references()) >= 15
    assert len(quote_blocks()) >= 10


@pytest.mark.parametrize(("path", "name"), references())
def test_referenced_definition_exists(path, name):
    assert (ROOT / path).is_file(), f"docs/backprop.md refers to missing {path}"
    tree, _, _ = parse(path)
    assert find_definition(tree, name) is not None, (
        f"docs/backprop.md refers to {path}::{name}, but {path} no longer "
        f"defines {name}: update the page"
    )


@pytest.mark.parametrize(
    ("path", "name", "body"),
    quote_blocks(),
    ids=[f"{p}::{n}#{k}" for k, (p, n, _) in enumerate(quote_blocks())],
)
def test_quoted_lines_are_in_the_code(path, name, body):
    assert (ROOT / path).is_file(), f"docs/backprop.md quotes missing {path}"
    tree, _, _ = parse(path)
    node = find_definition(tree, name)
    assert node is not None, f"{path} no longer defines {name}"
    candidates = source_lines(path, node)
    quoted = [line.strip() for line in body.splitlines() if line.strip()]
    assert quoted, f"empty quote of {path}::{name}"
    missing = [line for line in quoted if line not in candidates]
    assert not missing, (
        f"docs/backprop.md quotes lines that are not in {path}::{name} any "
        f"more; update the page: {missing}"
    )


def test_every_code_block_header_is_well_formed():
    # A header like "python skmlp/_network.py:forward" (one colon) would not
    # be checked at all; catch it.
    for header in re.findall(r"^```[ \t]*(\S.*)$", doc_text(), re.MULTILINE):
        if "::" in header or ".py" in header:
            assert re.fullmatch(r"python \S+?\.py::[A-Za-z_][\w.]*", header), header


def test_links_and_mentioned_files_exist():
    text = doc_text()
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "#", "mailto:")):
            continue
        path = (DOC.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"docs/backprop.md links to missing {target}"
    for path in set(MENTIONED_FILE.findall(text)):
        assert (ROOT / path).is_file(), f"docs/backprop.md mentions missing {path}"
