"""Cost pass: parameters, buffers, MACs and cheap ops of every node, from each op's own rule."""

from __future__ import annotations

from archspec.ir.graph import Graph, check_figures
from archspec.ops.base import Cost


def annotate_costs(graph: Graph) -> None:
    """Write ``node.cost`` for every node; figures (and running totals) beyond ``MAX_FIGURE`` are refused."""
    totals = Cost()
    for node in graph:
        if node.op is None:
            node.cost = Cost()
        else:
            node.cost = node.op.cost(node.attrs, [graph[i].shape for i in node.inputs], node.shape)
        totals = Cost(*(a + b for a, b in zip(totals, node.cost, strict=True)))
        check_figures(node, "params, buffers, MACs or other ops summed up to here", *totals)
