"""Squeeze-and-excitation: a channel gate computed from global context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archspec.ops.activation import ActivationName
from archspec.ops.base import Cost, Family, Op, OpAttrs, PositiveInt, Shape, numel, require_rank

if TYPE_CHECKING:
    from torch import nn


class SqueezeExciteAttrs(OpAttrs):
    """``squeeze`` channels of the bottleneck, its ``activation`` and the ``gate`` function."""

    squeeze: PositiveInt
    activation: ActivationName = "relu"
    gate: ActivationName = "sigmoid"


class SqueezeExcite(Op[SqueezeExciteAttrs]):
    """x * gate(fc2(act(fc1(mean(x))))), with 1x1 convs as the fully connected layers (Hu et al., 2018).

    Spatially position-wise, but every output depends on the whole input through the gate: the receptive
    field analysis follows the local path and flags the global context.
    """

    name = "squeeze_excite"
    family = Family.ATTENTION
    Attrs = SqueezeExciteAttrs
    channel_attrs = ("squeeze",)
    aliases = ("se",)
    global_context = True

    def infer(self, a: SqueezeExciteAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        return inputs[0]

    def cost(self, a: SqueezeExciteAttrs, inputs: list[Shape], output: Shape) -> Cost:
        channels = inputs[0][0]
        return Cost(
            params=2 * channels * a.squeeze + a.squeeze + channels,
            macs=2 * channels * a.squeeze,
            other_ops=numel(inputs[0]) + a.squeeze + channels + numel(output),
        )

    def module(self, a: SqueezeExciteAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import SqueezeExcite as Module

        return Module(inputs[0][0], a.squeeze, a.activation, a.gate)

    def label(self, a: SqueezeExciteAttrs) -> str:
        return f"SE {a.squeeze}"
