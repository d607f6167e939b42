"""Cost pass: parameters, buffers, MACs and cheap ops of every node, from each op's own rule."""

from __future__ import annotations

from archspec.ir.graph import Graph
from archspec.ops.base import Cost


def annotate_costs(graph: Graph) -> None:
    """Write ``node.cost`` for every node."""
    for node in graph:
        if node.op is None:
            node.cost = Cost()
        else:
            node.cost = node.op.cost(node.attrs, [graph[i].shape for i in node.inputs], node.shape)
