"""Graph invariants: inputs exist and come first, no cycle, arity respected, shapes annotated, outputs exist."""

from __future__ import annotations

import networkx as nx

from archspec.errors import GraphError
from archspec.ir.graph import Graph


def verify(graph: Graph) -> None:
    """Raise a GraphError naming the first node that breaks an invariant."""
    seen: set[str] = set()  # every input computed before its reader: the order the compiled forward runs in
    for node in graph:
        for source in node.inputs:
            if source not in seen:
                _refuse_cycle(graph)
                raise GraphError(f"node {node.name!r} reads {source!r} before it is computed", node.origin)
        if node.op is not None:
            arity = node.op.arity
            if (arity is None and len(node.inputs) < 2) or (arity is not None and len(node.inputs) != arity):
                wanted = "two or more" if arity is None else str(arity)
                raise GraphError(f"node {node.name!r} ({node.kind}) needs {wanted} inputs, got {len(node.inputs)}",
                                 node.origin)
        if not node.shape or any(size < 1 for size in node.shape):
            raise GraphError(f"node {node.name!r} has an empty output shape {list(node.shape)}", node.origin)
        seen.add(node.name)
    missing = [name for name in graph.outputs if name not in graph.nodes]
    if missing or not graph.outputs:
        raise GraphError(f"graph outputs {missing or 'none'} are not nodes")


def _refuse_cycle(graph: Graph) -> None:
    """Raise a GraphError naming the cycle, if the graph has one (an input read before it is computed may be)."""
    try:
        cycle = nx.find_cycle(graph.digraph)
    except nx.NetworkXNoCycle:
        return
    node = graph[cycle[0][0]]
    path = " -> ".join([*(u for u, _ in cycle), cycle[0][0]])
    raise GraphError(f"node {node.name!r} depends on itself: {path}", node.origin)
