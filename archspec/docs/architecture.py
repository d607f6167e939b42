"""The package's map: the module map page (every module's docstring) and the diagram of the pipeline's stages."""

from __future__ import annotations

import ast
from pathlib import Path

import graphviz

from archspec.backends.diagram import render
from archspec.docs import markdown as md

PACKAGE = Path(__file__).resolve().parents[1]


def module_map() -> str:
    """The module map page: every module of the package with the first line of its docstring."""
    rows = []
    for path in sorted(PACKAGE.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        rows.append([f"`{path.relative_to(PACKAGE.parent).as_posix()}`", md.docstring(doc.split("\n\n")[0])])
    return "\n".join(["# Modules", "", md.NOTE.format(source="the module docstrings"), "",
                      "Every module of the package; [the architecture](../architecture.md) explains how they fit.",
                      "", *md.table(["module", "what it holds"], rows)]) + "\n"


def _modules(package: str, per_line: int = 4) -> str:
    names = sorted(p.stem for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__")
    return "<br/>".join(" · ".join(names[i:i + per_line]) for i in range(0, len(names), per_line))


def architecture_diagram() -> bytes:
    """The pipeline, spec -> IR -> analyses -> backends, with the modules of each stage, as SVG."""
    dot = graphviz.Digraph("archspec", graph_attr={"fontname": "Helvetica", "nodesep": "0.6", "ranksep": "0.45"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "12", "margin": "0.2,0.1"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "11"})

    def stage(name: str, what: str, colour: str) -> None:
        dot.node(name, f"<<b>archspec.{name}</b><br/>{what}<br/><font point-size='10' color='#555555'>"
                       f"{_modules(name)}</font>>", fillcolor=colour)

    dot.node("yaml", "network.yaml\nblocks/*.yaml", shape="note", style="filled", fillcolor="#ffffff")
    stage("spec", "read with positions, validated,<br/>imports and blocks resolved", "#fff2cc")
    stage("ir", "blocks expanded, $expressions evaluated,<br/>shapes inferred, graph verified", "#cfe2f3")
    stage("analysis", "passes annotate every node", "#d9ead3")
    stage("backends", "PyTorch module, weights, summaries,<br/>tables, diagrams, charts, export", "#d9d2e9")
    stage("transforms", "a spec into another spec", "#fce5cd")
    stage("ops", "per primitive: attributes and the<br/>shape, cost, field and torch rules", "#f4cccc")
    for source, target, label in (("yaml", "spec", ""), ("spec", "ir", " NetworkSpec"), ("ir", "analysis", " Graph"),
                                  ("analysis", "backends", " annotated Graph, Report")):
        dot.edge(source, target, label, weight="8")  # the main path drawn straight
    dot.edge("spec", "transforms", " NetworkSpec", dir="both")
    dot.edge("ir", "ops", style="dashed", color="#7f7f7f", dir="back")  # drawn from ir, to keep ops on the right
    for target in ("analysis", "backends"):
        dot.edge("ops", target, style="dashed", color="#7f7f7f")
    for row in (("spec", "transforms"), ("ir", "ops")):
        with dot.subgraph() as same:
            same.attr(rank="same")
            for name in row:
                same.node(name)
    return render(dot, "svg")
