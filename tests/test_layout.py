"""The layout's walls, read from the source (imports inside functions included): reading never
imports learning, the store or the doors above it; nothing imports upwards; no module imports
itself through others; no function is over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import digitrec

PACKAGE = Path(digitrec.__file__).parent
# Who may import whom: each area and the areas it may use.
ALLOWED = {
    "reading": {"reading", "errors"},
    "learning": {"learning", "reading", "errors"},
    "store": {"store", "reading", "errors"},
    "web": {"web", "reading", "store", "errors"},
    "cli": {"cli", "reading", "learning", "store", "web", "errors"},
}
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules a module imports: `from digitrec.web import schemas` is the module
    digitrec.web.schemas; `from digitrec.web.app import create_app` is digitrec.web.app."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("digitrec"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= submodules if len(submodules) == len(node.names) else {node.module}
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("digitrec"))
    return found


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_area_imports_only_what_it_may() -> None:
    trees = modules()
    wrong = []
    for name, tree in trees.items():
        mine = area(name)
        if mine not in ALLOWED:
            continue
        for imported in imports_of(tree, set(trees)):
            theirs = area(imported)
            if imported in trees and theirs and theirs not in ALLOWED[mine] and theirs != "__init__":
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    trees = modules()
    graph = {
        name: {i for i in imports_of(tree, set(trees)) if i in trees and i != name} for name, tree in trees.items()
    }
    graph["digitrec"] = set()  # the package's front door imports everything; nothing imports it back
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_function_is_over_60_lines() -> None:
    long = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, "\n".join(long)


def test_the_public_api_is_declared() -> None:
    assert {"Reader", "Strokes", "DigitReading", "NumberReading", "Budget", "DigitrecError"} <= set(digitrec.__all__)
    for name in digitrec.__all__:
        assert hasattr(digitrec, name), name
