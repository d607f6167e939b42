"""Fully connected layer over the last dimension."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archspec.ops.base import GLOBAL, IDENTITY, Cost, Family, Op, OpAttrs, PositiveInt, Shape, WindowRule, numel

if TYPE_CHECKING:
    from torch import nn


class LinearAttrs(OpAttrs):
    """``out`` features; ``bias`` as in PyTorch."""

    out: PositiveInt
    bias: bool = True


class Linear(Op[LinearAttrs]):
    """Linear map of the last dimension: (F,) -> (out,) or token-wise (L, D) -> (L, out)."""

    name = "linear"
    family = Family.LINEAR
    Attrs = LinearAttrs
    channel_attrs = ("out",)

    def infer(self, a: LinearAttrs, inputs: list[Shape]) -> Shape:
        return (*inputs[0][:-1], a.out)

    def cost(self, a: LinearAttrs, inputs: list[Shape], output: Shape) -> Cost:
        features = inputs[0][-1]
        return Cost(params=features * a.out + (a.out if a.bias else 0), macs=numel(output) * features)

    def window(self, a: LinearAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL if len(inputs[0]) == 1 else IDENTITY

    def module(self, a: LinearAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.Linear(inputs[0][-1], a.out, bias=a.bias)

    def label(self, a: LinearAttrs) -> str:
        return f"linear {a.out}"
