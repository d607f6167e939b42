"""The package's shape: imports point down the pipeline (spec -> IR -> analyses -> backends), none forms a cycle,
and no module grows past about 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archspec"
MAX_LINES = 400
# (importer prefix, imported prefix): lowering points downward, and the IR does not reach back into the loader
FORBIDDEN = [
    ("archspec.ops", "archspec.backends"), ("archspec.ops", "archspec.ir"), ("archspec.ops", "archspec.analysis"),
    ("archspec.ops", "archspec.spec"), ("archspec.spec", "archspec.ir"), ("archspec.spec", "archspec.analysis"),
    ("archspec.spec", "archspec.backends"), ("archspec.ir", "archspec.spec.load"), ("archspec.ir", "archspec.analysis"),
    ("archspec.ir", "archspec.backends"), ("archspec.analysis", "archspec.backends"),
    ("archspec.backends", "archspec.api"), ("archspec.backends", "archspec.cli"), ("archspec.docs", "archspec.cli"),
    ("archspec.api", "archspec.cli"),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every archspec module ``path`` imports, at module level or inside a function (typing-only imports aside)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for node in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("archspec")}


def _graph() -> nx.DiGraph:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for imported in _imports(path):
            if imported in modules and imported != name:
                graph.add_edge(name, imported)
    return graph


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its modules is no cycle of logic: leave those edges out
    graph.remove_edges_from([(a, b) for a, b in list(graph.edges) if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_imports_point_down_the_pipeline(importer: str, imported: str) -> None:
    wrong = [(a, b) for a, b in _graph().edges if (a == importer or a.startswith(importer + "."))
             and (b == imported or b.startswith(imported + "."))]
    assert not wrong, f"{importer} must not import {imported}: {wrong}"


def test_no_module_over_400_lines() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checker_sees_imports() -> None:
    # the rules above could not fail if the walk found no imports: the builder imports the visitor, lazily or not
    assert ("archspec.ir.build", "archspec.spec.visit") in _graph().edges
    assert ("archspec.api", "archspec.backends.torch_module") in _graph().edges  # a lazy import inside a method
