"""Dropout and stochastic depth: identities at inference, free of arithmetic in the count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from archspec.ops.base import Cost, Family, Op, OpAttrs, Shape

Probability = Annotated[float, Field(ge=0, le=1)]

if TYPE_CHECKING:
    from torch import nn


class DropoutAttrs(OpAttrs):
    """Drop probability ``p``."""

    p: Probability = 0.5


class Dropout(Op[DropoutAttrs]):
    """Dropout of individual elements."""

    name = "dropout"
    family = Family.REGULARIZATION
    elementwise = True
    Attrs = DropoutAttrs

    def cost(self, a: DropoutAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def module(self, a: DropoutAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.Dropout(a.p)


class StochasticDepthAttrs(OpAttrs):
    """Drop probability ``p``; ``row`` drops per sample, ``batch`` the whole batch."""

    p: Probability = 0.0
    mode: Literal["row", "batch"] = "row"


class StochasticDepth(Op[StochasticDepthAttrs]):
    """Randomly drops a residual branch during training (Huang et al., 2016)."""

    name = "stochastic_depth"
    family = Family.REGULARIZATION
    elementwise = True
    Attrs = StochasticDepthAttrs

    def cost(self, a: StochasticDepthAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def module(self, a: StochasticDepthAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import StochasticDepth as Module

        return Module(a.p, a.mode)
