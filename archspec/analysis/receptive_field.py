"""Receptive-field pass: size, effective stride and effective padding of every node, per axis.

Each node's field is an interval of input pixels seen by its first output position (start = -padding)
plus the distance between neighbouring positions (stride). A sliding window with kernel k, stride s,
padding p and dilation d maps (size r, stride j, start a) to (r + (k-1)*d*j, j*s, a - p*j).
Merges take the union of their inputs' intervals (branches are aligned by position), and global ops
(global pooling, attention, flattening a map) make the field global. Ops whose output depends on the
whole image besides their local window (squeeze-excitation) keep the local field and set ``global_context``.
"""

from __future__ import annotations

from archspec.ir.graph import Graph, ReceptiveField, check_figures
from archspec.ops.base import Window


def annotate_receptive_fields(graph: Graph) -> None:
    """Write ``node.rf`` for every node; fields beyond ``MAX_FIGURE`` are refused."""
    for node in graph:
        if node.op is None:
            node.rf = ReceptiveField((1, 1), (1, 1), (0, 0))
            continue
        fields = [graph[name].rf for name in node.inputs]  # inputs come first: theirs are written
        merged = _union(fields)
        rule = node.op.window(node.attrs, [graph[i].shape for i in node.inputs])
        context = merged.global_context or node.op.global_context
        if rule.kind is Window.GLOBAL or merged.is_global:
            node.rf = ReceptiveField(merged.size, merged.stride, merged.padding, True, True)
        elif rule.kind is Window.IDENTITY:
            node.rf = ReceptiveField(merged.size, merged.stride, merged.padding, context)
        else:
            size = tuple(r + (k - 1) * d * j for r, k, d, j in
                         zip(merged.size, rule.kernel, rule.dilation, merged.stride, strict=True))
            stride = tuple(j * s for j, s in zip(merged.stride, rule.stride, strict=True))
            padding = tuple(p + q * j for p, q, j in zip(merged.padding, rule.padding, merged.stride, strict=True))
            # tuple() of a generator is tuple[int, ...] to mypy; zips of pairs give pairs
            node.rf = ReceptiveField(size, stride, padding, context)  # type: ignore[arg-type]
            check_figures(node, "receptive-field size, stride or padding", *size, *stride, *padding)


def _union(fields: list[ReceptiveField]) -> ReceptiveField:
    if len(fields) == 1:
        return fields[0]
    local = [f for f in fields if not f.is_global] or fields
    start = [min(-f.padding[axis] for f in local) for axis in range(2)]
    end = [max(-f.padding[axis] + f.size[axis] - 1 for f in local) for axis in range(2)]
    stride = tuple(max(f.stride[axis] for f in local) for axis in range(2))
    return ReceptiveField(
        size=(end[0] - start[0] + 1, end[1] - start[1] + 1),
        stride=stride,  # type: ignore[arg-type]  # a pair: one per axis (tuple() is tuple[int, ...] to mypy)
        padding=(-start[0], -start[1]),
        global_context=any(f.global_context or f.is_global for f in fields),
        is_global=all(f.is_global for f in fields),
    )


def headline_field(graph: Graph) -> ReceptiveField:
    """The field of the last node on the main path whose field is still local (the last spatial feature map)."""
    main = graph.ancestors(graph.outputs[0])
    last = graph[graph.input].rf
    for node in graph:
        if node.name in main and not node.rf.is_global:
            last = node.rf
    return last
