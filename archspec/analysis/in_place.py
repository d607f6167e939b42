"""In-place pass: which nodes may overwrite one of their inputs, as hand-written networks do.

An activation may run in place (``ReLU(inplace=True)``) and a residual add may accumulate into one summand
(``out += identity``) when that input is a fresh tensor read by this node alone, is no output of the network,
and its producer does not keep it for the backward pass. Each such overwrite saves one activation-sized buffer.
The pass runs on demand (the torch backend needs it, the figures do not) and keeps its result on the graph.
"""

from __future__ import annotations

from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family

_FRESH_OUTPUTS = {Family.CONV, Family.NORM, Family.LINEAR, Family.POOL}
# not self_attention: nn.MultiheadAttention returns a transposed view, which autograd would copy to overwrite
_FRESH_OPS = {"add", "multiply", "concat", "squeeze_excite"}


def may_overwrite(graph: Graph, source: str, node: Node) -> bool:
    """True when ``source`` is a fresh tensor (not a view, not the network input) used by ``node`` alone, and
    its producer does not keep it for the backward pass."""
    producer = graph[source]
    if producer.op is None or source in graph.outputs or graph.users(source) != [node.name]:
        return False
    if producer.op.family is Family.REGULARIZATION:  # dropout, stochastic depth: inactive, they return their input
        return may_overwrite(graph, producer.inputs[0], producer)
    if producer.op.family is Family.LINEAR and len(producer.shape) > 1:
        return False  # on token sequences F.linear returns a view of its 2-D product
    return producer.op.family in _FRESH_OUTPUTS or producer.op.name in _FRESH_OPS


def _overwritten(graph: Graph, node: Node) -> str | None:
    if node.op is None:
        return None
    if node.op.family is Family.ACTIVATION:
        return node.inputs[0] if may_overwrite(graph, node.inputs[0], node) else None
    if node.op.name != "add" or len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]:
        return None
    # the summand that may hold the sum must have the output's shape
    return next((source for source in node.inputs
                 if graph[source].shape == node.shape and may_overwrite(graph, source, node)), None)


def in_place_inputs(graph: Graph) -> dict[str, str]:
    """Node name -> the input it may overwrite, for every activation and two-input add that may run in place."""
    found = graph.results.get("in_place")
    if not isinstance(found, dict):
        found = {node.name: source for node in graph if (source := _overwritten(graph, node)) is not None}
        graph.results["in_place"] = found
    return found
