"""Activation-memory pass: total elements produced, and the peak held at once in an inference pass."""

from __future__ import annotations

from archspec.ir.graph import Graph, Memory, check_figures
from archspec.ops.base import numel


def annotate_memory(graph: Graph) -> Memory:
    """Compute activation memory and store it on the graph; totals beyond ``MAX_FIGURE`` are refused."""
    order = list(graph.nodes)
    position = {name: i for i, name in enumerate(order)}
    last_use = {name: max((position[u] for u in graph.users(name)), default=len(order)) for name in order}
    for name in graph.outputs:
        last_use[name] = len(order)
    frees: dict[int, list[str]] = {}
    for name, step in last_use.items():
        frees.setdefault(step, []).append(name)
    live = peak = total = 0
    for step, name in enumerate(order):
        size = numel(graph[name].shape)
        total += size
        check_figures(graph[name], "activation elements summed up to here", total)
        live += size
        peak = max(peak, live)
        for done in frees.get(step, []):
            live -= numel(graph[done].shape)
    graph.memory = Memory(total, peak)
    return graph.memory
