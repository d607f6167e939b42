"""Receptive-field pass: size, effective stride and effective padding of every node, per axis.

Along an axis, a node's position p sees the input pixels from ``p*j + starts[p % P]`` to ``p*j + ends[p % P]``
(stride j, period P). Convolutions and pools keep every position's field the same window shifted (P = 1): a window
with kernel k, stride s, padding q and dilation d gives position p the union of its input positions p*s - q to
p*s - q + (k-1)*d. Attention within windows that partition the map (Swin) gives each position the union of its
window's positions, so a position's field depends on its place in the window and P becomes a multiple of the
window. Merges take the union of their inputs' fields (branches are aligned by position), and global ops
(global pooling, attention, flattening a map) make the field global, and so does a merge with a global input
that still has many positions (a residual add after attention). Ops whose output depends on the whole image
besides their local window (squeeze-excitation, a pooled gate) keep the local field and set ``global_context``.
"""

from __future__ import annotations

from math import gcd, lcm
from typing import NamedTuple

from archspec.ir.graph import Graph, Node, ReceptiveField, check_figures
from archspec.ops.base import Window, WindowRule

# longer periods (windows of coprime sizes chained) keep each position's field within the envelope of all of them
MAX_PERIOD = 1024


class _Axis(NamedTuple):
    """The fields along one axis: stride, and per residue the first and last pixel relative to ``p * stride``."""

    stride: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def start(self, position: int) -> int:
        return position * self.stride + self.starts[position % len(self.starts)]

    def end(self, position: int) -> int:
        return position * self.stride + self.ends[position % len(self.ends)]

    def envelope(self) -> _Axis:
        """The same stride with one field that holds every position's (period 1)."""
        return _Axis(self.stride, (min(self.starts),), (max(self.ends),))


def _sliding(axis: _Axis, kernel: int, stride: int, padding: int, dilation: int) -> _Axis:
    period = len(axis.starts) // gcd(len(axis.starts), stride)
    first = [r * stride - padding for r in range(period)]
    step = axis.stride * stride
    return _Axis(step, tuple(axis.start(q) - r * step for r, q in enumerate(first)),
                 tuple(axis.end(q + (kernel - 1) * dilation) - r * step for r, q in enumerate(first)))


def _partition(axis: _Axis, window: int, offset: int) -> _Axis:
    period = lcm(len(axis.starts), window)
    first = [r - (r - offset) % window for r in range(period)]  # the first position of r's window
    return _Axis(axis.stride, tuple(axis.start(q) - r * axis.stride for r, q in enumerate(first)),
                 tuple(axis.end(q + window - 1) - r * axis.stride for r, q in enumerate(first)))


def _union(axes: list[_Axis]) -> _Axis:
    period, stride = lcm(*(len(axis.starts) for axis in axes)), max(axis.stride for axis in axes)
    if len({axis.stride for axis in axes}) > 1 or period > MAX_PERIOD:  # not aligned position by position
        axes, period = [axis.envelope() for axis in axes], 1
    return _Axis(stride, tuple(min(axis.start(r) for axis in axes) - r * stride for r in range(period)),
                 tuple(max(axis.end(r) for axis in axes) - r * stride for r in range(period)))


def _transfer(axis: _Axis, rule: WindowRule, index: int) -> _Axis:
    window = rule.kernel[index]
    if rule.kind is not Window.PARTITION:
        return _sliding(axis, window, rule.stride[index], rule.padding[index], rule.dilation[index])
    if lcm(len(axis.starts), window) <= MAX_PERIOD:
        return _partition(axis, window, rule.offset[index])
    # every position's window lies within window - 1 positions of it on either side
    return _sliding(axis.envelope(), 2 * window - 1, 1, window - 1, 1)


def _field(node: Node, axes: list[_Axis], global_context: bool, is_global: bool = False) -> ReceptiveField:
    size = tuple(max(e - s + 1 for s, e in zip(axis.starts, axis.ends, strict=True)) for axis in axes)
    stride, padding = tuple(axis.stride for axis in axes), tuple(-axis.starts[0] for axis in axes)
    check_figures(node, "receptive-field size, stride or padding", *size, *stride, *padding)
    # tuple() of a generator is tuple[int, ...] to mypy; these are pairs, one per axis
    return ReceptiveField(size, stride, padding, global_context, is_global,  # type: ignore[arg-type]
                          (axes[0].starts, axes[1].starts), (axes[0].ends, axes[1].ends))


def _axes(rf: ReceptiveField) -> list[_Axis]:
    return [_Axis(rf.stride[i], rf.starts[i], rf.ends[i]) for i in range(2)]


def annotate_receptive_fields(graph: Graph) -> None:
    """Write ``node.rf`` for every node; fields beyond ``MAX_FIGURE`` are refused."""
    for node in graph:
        if node.op is None:
            node.rf = ReceptiveField((1, 1), (1, 1), (0, 0))
            continue
        fields = [graph[name].rf for name in node.inputs]  # inputs come first: theirs are written
        local = [f for f in fields if not f.is_global] or fields
        merged = [_union(list(axis)) for axis in zip(*(_axes(f) for f in local), strict=True)]
        rule = node.op.window(node.attrs, [graph[i].shape for i in node.inputs])
        context = any(f.global_context or f.is_global for f in fields) or node.op.global_context
        # a global input that still has many positions (attention's output, not a pooled gate) reaches every
        # output position through the merge: x + attention(x) is global, x * gate(pool(x)) is global context
        spread = any(f.is_global and is_spread(graph[name].shape) for name, f in zip(node.inputs, fields, strict=True))
        if rule.kind is Window.GLOBAL or all(f.is_global for f in fields) or spread:
            node.rf = _field(node, merged, True, True)
        elif rule.kind is Window.IDENTITY:
            node.rf = _field(node, merged, context)
        else:
            node.rf = _field(node, [_transfer(axis, rule, i) for i, axis in enumerate(merged)], context)


def is_spread(shape: tuple[int, ...]) -> bool:
    """Whether a tensor still has several positions: a map larger than 1x1, or a sequence of tokens."""
    return (len(shape) == 3 and shape[1] * shape[2] > 1) or (len(shape) == 2 and shape[0] > 1)


def headline_field(graph: Graph) -> ReceptiveField:
    """The field of the last spatial feature map (or token sequence) on the main path: the last node whose field
    is local, or later, one that attention made global while it still has many positions (ViT's tokens)."""
    main = graph.ancestors(graph.outputs[0])
    last = graph[graph.input].rf
    for node in graph:
        if node.name in main and (not node.rf.is_global or is_spread(node.shape)):
            last = node.rf
    return last
