"""Analysis passes over the IR; each writes its results onto the nodes or the graph."""

from __future__ import annotations

from archspec.analysis.cost import annotate_costs
from archspec.analysis.memory import annotate_memory
from archspec.analysis.receptive_field import annotate_receptive_fields
from archspec.ir.graph import Graph, collection_paused


def analyze_graph(graph: Graph) -> Graph:
    """Run every analysis pass in order."""
    with collection_paused():
        annotate_costs(graph)
        annotate_receptive_fields(graph)
        annotate_memory(graph)
    return graph
