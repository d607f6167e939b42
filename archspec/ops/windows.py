"""Attention within partitions of (C, H, W) maps (Swin's shifted windows, MaxViT's blocks and grids) and Swin's
2x2 patch merging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from archspec.ops.base import (
    GLOBAL,
    Cost,
    Family,
    Layout,
    NoAttrs,
    NonNegativeInt,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    Window,
    WindowRule,
    require_rank,
)

if TYPE_CHECKING:
    from torch import nn

# Swin V2's continuous position bias: an MLP from a relative (dy, dx) to one bias per head through this many units
CPB_HIDDEN = 512


def padded(size: int, window: int) -> int:
    """A map's size padded (at the end) to a whole number of windows."""
    return -(-size // window) * window


def effective_shift(size: int, window: int, shift: int) -> int:
    """The shift along one axis: none where one window covers the (padded) axis, as a shift would only rotate it."""
    return 0 if window >= padded(size, window) else shift


def attention_cost(channels: int, heads: int, tokens: int, window: int, bias_table: bool) -> Cost:
    """Multi-head attention within M x M groups of ``tokens`` positions: QKV and output projections (with biases),
    scores and weighted values, the (M*M)^2 relative-position index, and the (2M-1)^2 x heads bias table."""
    per_group = window * window
    return Cost(params=4 * channels * channels + 4 * channels + (2 * window - 1) ** 2 * heads * bias_table,
                buffers=per_group * per_group,
                macs=4 * tokens * channels * channels + 2 * tokens * per_group * channels,
                other_ops=heads * tokens * per_group)


class WindowAttentionAttrs(OpAttrs):
    """``heads``; square ``window`` (M, in positions) and cyclic ``shift`` of the partition; ``version``: 1 for
    Swin's scaled dot products with a learned relative-position-bias table, 2 for Swin V2's cosine attention with a
    learned logit scale and a continuous position bias (an MLP of log-spaced offsets); dropouts as torchvision's."""

    heads: PositiveInt
    window: PositiveInt
    shift: NonNegativeInt = 0
    version: Literal[1, 2] = 1
    attention_dropout: Annotated[float, Field(ge=0, le=1)] = 0.0
    dropout: Annotated[float, Field(ge=0, le=1)] = 0.0


class WindowAttention(Op[WindowAttentionAttrs]):
    """Multi-head self-attention within M x M windows of a (C, H, W) map (Swin's W-MSA; SW-MSA with ``shift``).

    The map is zero-padded at its end to whole windows; a shift rolls it by ``shift`` first (and back after), with
    an attention mask that keeps tokens from attending across the roll's seams; an axis that one window covers is
    not shifted. With T the padded positions and N = M*M, MACs: QKV projection T*C*3C + scores T*N*C + weighted
    values T*N*C + output projection T*C*C (+ V2's position-bias MLP on its (2M-1)^2 offsets, run once per batch).
    Each position's receptive field is the union of its window's, local and depending on the position's place in
    its window. Example: ``{op: window_attention, heads: 3, window: 7, shift: 3}``.
    """

    name = "window_attention"
    family = Family.ATTENTION
    Attrs = WindowAttentionAttrs

    def infer(self, a: WindowAttentionAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) map")
        if inputs[0][0] % a.heads:
            raise ShapeError(f"heads={a.heads} must divide the channels {inputs[0][0]}")
        if a.shift >= a.window:
            raise ShapeError(f"shift={a.shift} must be smaller than the window {a.window}")
        if a.version == 2 and a.window < 2:
            raise ShapeError("version 2's continuous position bias needs a window of at least 2 (it scales the "
                             "offsets by window - 1)")
        return inputs[0]

    def cost(self, a: WindowAttentionAttrs, inputs: list[Shape], output: Shape) -> Cost:
        channels, height, width = inputs[0]
        tokens = padded(height, a.window) * padded(width, a.window)
        if a.version == 1:
            return attention_cost(channels, a.heads, tokens, a.window, bias_table=True)
        offsets = (2 * a.window - 1) ** 2
        cost = attention_cost(channels, a.heads, tokens, a.window, bias_table=False)
        return cost._replace(params=cost.params + a.heads + CPB_HIDDEN * (2 + 1 + a.heads),  # logit scales; the
                             buffers=cost.buffers + offsets * 2,  # MLP 2 -> 512 (bias) -> heads on log offsets
                             macs=cost.macs + offsets * CPB_HIDDEN * (2 + a.heads))

    def window(self, a: WindowAttentionAttrs, inputs: list[Shape]) -> WindowRule:
        # windows from the shift on (the positions before it are the roll's wrapped window, which the mask keeps
        # apart); one window covering an axis is that axis's positions
        sizes = inputs[0][1:]
        kernel = tuple(a.window if a.window < size else size for size in sizes)
        offset = tuple(effective_shift(size, a.window, a.shift) for size in sizes)
        return WindowRule(Window.PARTITION, kernel, offset=offset)  # type: ignore[arg-type]  # pairs

    def layout(self, a: WindowAttentionAttrs, inputs: list[Shape]) -> Layout:
        return Layout.LAST

    def module(self, a: WindowAttentionAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import WindowAttention as Module

        _, height, width = inputs[0]
        shift = (effective_shift(height, a.window, a.shift), effective_shift(width, a.window, a.shift))
        return Module(inputs[0][0], a.heads, a.window, shift, a.version, a.attention_dropout, a.dropout)

    def label(self, a: WindowAttentionAttrs) -> str:
        kind = "window_attention" if a.version == 1 else "window_attention v2"
        return f"{kind} h{a.heads} {a.window}x{a.window}" + (f" shift {a.shift}" if a.shift else "")


class PartitionAttentionAttrs(OpAttrs):
    """``heads``; the square ``window`` (M, in positions) of the ``partition``: block (M x M neighbours) or grid
    (M x M positions spread evenly over the map); ``scale``: the dot products divided by the square root of a
    head's channels (head) or of all channels (channels, as torchvision's MaxViT)."""

    heads: PositiveInt
    window: PositiveInt
    partition: Literal["block", "grid"] = "block"
    scale: Literal["head", "channels"] = "head"


class PartitionAttention(Op[PartitionAttentionAttrs]):
    """MaxViT's multi-axis attention on a (C, H, W) map whose sides M divides: multi-head self-attention with a
    relative-position-bias table within each M x M block, or within each M x M grid (with H = M*h and W = M*w,
    position (i*h + a, j*w + b) attends to every (k*h + a, l*w + b)).

    With T = H*W positions and N = M*M, MACs: QKV projection T*C*3C + scores T*N*C + weighted values T*N*C + output
    projection T*C*C. A block is local: each position's field is the union of its block's. A grid of more than one
    position spans the map, so its field is global.
    Example: ``{op: partition_attention, heads: 2, window: 7, partition: grid}``.
    """

    name = "partition_attention"
    family = Family.ATTENTION
    Attrs = PartitionAttentionAttrs

    def infer(self, a: PartitionAttentionAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) map")
        channels, height, width = inputs[0]
        if channels % a.heads:
            raise ShapeError(f"heads={a.heads} must divide the channels {channels}")
        if height % a.window or width % a.window:
            raise ShapeError(f"a {a.partition} of {a.window}x{a.window} must divide the map's sides, got "
                             f"{height}x{width}")
        return inputs[0]

    def cost(self, a: PartitionAttentionAttrs, inputs: list[Shape], output: Shape) -> Cost:
        channels, height, width = inputs[0]
        return attention_cost(channels, a.heads, height * width, a.window, bias_table=True)

    def window(self, a: PartitionAttentionAttrs, inputs: list[Shape]) -> WindowRule:
        if a.partition == "grid" and a.window > 1:
            return GLOBAL
        return WindowRule(Window.PARTITION, (a.window, a.window), offset=(0, 0))

    def layout(self, a: PartitionAttentionAttrs, inputs: list[Shape]) -> Layout:
        return Layout.LAST

    def module(self, a: PartitionAttentionAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import PartitionAttention as Module

        channels = inputs[0][0]
        scale = (channels if a.scale == "channels" else channels // a.heads) ** -0.5
        return Module(channels, a.heads, a.window, a.partition == "grid", scale)

    def label(self, a: PartitionAttentionAttrs) -> str:
        return f"{a.partition}_attention h{a.heads} {a.window}x{a.window}"


class PatchMerge(Op[NoAttrs]):
    """Concatenate the channels of each 2x2 neighbourhood: (C, H, W) -> (4C, ceil(H/2), ceil(W/2)), an odd size
    zero-padded at its end, in Swin's order (top-left, bottom-left, top-right, bottom-right). Swin's patch merging
    follows it with a LayerNorm and a linear 4C -> 2C. Example: ``{op: patch_merge}``."""

    name = "patch_merge"
    family = Family.TENSOR

    def infer(self, a: NoAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) map")
        channels, height, width = inputs[0]
        return (4 * channels, -(-height // 2), -(-width // 2))

    def cost(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def window(self, a: NoAttrs, inputs: list[Shape]) -> WindowRule:
        return WindowRule(Window.SLIDING, (2, 2), (2, 2))

    def layout(self, a: NoAttrs, inputs: list[Shape]) -> Layout:
        return Layout.LAST

    def module(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import PatchMerge as Module

        return Module()
