"""Fully connected layer over the last dimension."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from archspec.ops.base import (
    GLOBAL,
    IDENTITY,
    Cost,
    Family,
    Layout,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    WindowRule,
    numel,
)

if TYPE_CHECKING:
    from torch import nn


class LinearAttrs(OpAttrs):
    """``out`` features; ``bias`` as in PyTorch; ``axis: channels`` maps each position's channels of a (C, H, W)
    map (ConvNeXt's and Swin's MLPs), which a map must say."""

    out: PositiveInt
    bias: bool = True
    axis: Literal["channels"] | None = None


class Linear(Op[LinearAttrs]):
    """Linear map of the features: (F,) -> (out,), token-wise (L, D) -> (L, out), or position-wise on a map's
    channels (C, H, W) -> (out, H, W)."""

    name = "linear"
    family = Family.LINEAR
    Attrs = LinearAttrs
    channel_attrs = ("out",)

    def infer(self, a: LinearAttrs, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) == 3:
            if a.axis is None:
                raise ShapeError("linear on a (C, H, W) map must say axis: channels (each position's channels); a "
                                 "fully connected layer takes a vector: put {op: flatten} before it")
            return (a.out, *inputs[0][1:])
        return (*inputs[0][:-1], a.out)

    def cost(self, a: LinearAttrs, inputs: list[Shape], output: Shape) -> Cost:
        features = self.features(inputs[0])
        return Cost(params=features * a.out + (a.out if a.bias else 0), macs=numel(output) * features)

    def features(self, shape: Shape) -> int:
        """The input features each output is computed from."""
        return shape[0] if len(shape) == 3 else shape[-1]

    def layout(self, a: LinearAttrs, inputs: list[Shape]) -> Layout:
        return Layout.LAST if len(inputs[0]) == 3 else Layout.FIRST

    def window(self, a: LinearAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL if len(inputs[0]) == 1 else IDENTITY

    def module(self, a: LinearAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.Linear(self.features(inputs[0]), a.out, bias=a.bias)

    def label(self, a: LinearAttrs) -> str:
        return f"linear {a.out}"
