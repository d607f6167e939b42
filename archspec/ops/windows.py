"""Swin Transformer primitives on (C, H, W) maps: attention within (shifted) windows, and 2x2 patch merging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from archspec.ops.base import (
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
        tokens, per_window = padded(height, a.window) * padded(width, a.window), a.window * a.window
        offsets = (2 * a.window - 1) ** 2
        params, buffers = 4 * channels * channels + 4 * channels, per_window * per_window  # the index buffer
        macs = 4 * tokens * channels * channels + 2 * tokens * per_window * channels
        if a.version == 1:
            params += offsets * a.heads  # the bias table
        else:
            params += a.heads + CPB_HIDDEN * (2 + 1 + a.heads)  # logit scales; the MLP 2 -> 512 (bias) -> heads
            buffers += offsets * 2  # the offsets' log-spaced coordinates
            macs += offsets * CPB_HIDDEN * (2 + a.heads)
        return Cost(params=params, buffers=buffers, macs=macs, other_ops=a.heads * tokens * per_window)

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
