"""Normalisation: batch norm, layer norm, local response norm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from archspec.ops.base import (
    Cost,
    Family,
    Layout,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    numel,
    require_rank,
)

if TYPE_CHECKING:
    from torch import nn


class BatchNormAttrs(OpAttrs):
    """``eps`` and ``momentum`` as in PyTorch."""

    eps: Annotated[float, Field(gt=0)] = 1e-5
    momentum: Annotated[float, Field(ge=0, le=1)] = 0.1


class BatchNorm(Op[BatchNormAttrs]):
    """Batch normalisation over channels of a (C, H, W) map or a (C,) vector."""

    name = "batchnorm"
    family = Family.NORM
    Attrs = BatchNormAttrs

    def infer(self, a: BatchNormAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (1, 3), "a (C, H, W) map or a (C,) vector")
        return inputs[0]

    def cost(self, a: BatchNormAttrs, inputs: list[Shape], output: Shape) -> Cost:
        channels = inputs[0][0]
        return Cost(params=2 * channels, buffers=2 * channels + 1, other_ops=numel(output))

    def module(self, a: BatchNormAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        cls = nn.BatchNorm2d if len(inputs[0]) == 3 else nn.BatchNorm1d
        return cls(inputs[0][0], eps=a.eps, momentum=a.momentum)


class LayerNormAttrs(OpAttrs):
    """``eps`` as in PyTorch; ``axis``: what is normalised, which a (C, H, W) map must say."""

    eps: Annotated[float, Field(gt=0)] = 1e-5
    axis: Literal["channels", "all"] | None = Field(
        None, description="channels: each position's channels (ConvNeXt, Swin); all: every value of the input "
                          "together; default, for tokens and vectors only: the last dimension (the features).")


class LayerNorm(Op[LayerNormAttrs]):
    """Layer normalisation over the channels (token features), or over the whole input (``axis: all``)."""

    name = "layernorm"
    family = Family.NORM
    Attrs = LayerNormAttrs

    def infer(self, a: LayerNormAttrs, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) == 3 and a.axis is None:
            raise ShapeError("layernorm on a (C, H, W) map must name the axis it normalises: axis: channels (the "
                             "C values at each position) or axis: all (C, H and W together)")
        return inputs[0]

    def normalised(self, a: LayerNormAttrs, shape: Shape) -> Shape:
        """The shape of the normalised (and scaled) part of one input."""
        if a.axis == "all":
            return shape
        return (shape[0],) if len(shape) == 3 else shape[-1:]

    def cost(self, a: LayerNormAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(params=2 * numel(self.normalised(a, inputs[0])), other_ops=numel(output))

    def layout(self, a: LayerNormAttrs, inputs: list[Shape]) -> Layout:
        return Layout.LAST if len(inputs[0]) == 3 and a.axis == "channels" else Layout.FIRST

    def module(self, a: LayerNormAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.LayerNorm(list(self.normalised(a, inputs[0])), eps=a.eps)

    def first_module(self, a: LayerNormAttrs, inputs: list[Shape], output: Shape) -> nn.Module | None:
        from archspec.ops.modules import ChannelLayerNorm

        return ChannelLayerNorm(inputs[0][0], eps=a.eps) if self.layout(a, inputs) is Layout.LAST else None

    def label(self, a: LayerNormAttrs) -> str:
        return f"layernorm ({a.axis})" if a.axis else self.name


class LRNAttrs(OpAttrs):
    """Local response normalisation across ``size`` neighbouring channels (AlexNet)."""

    size: PositiveInt = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


class LocalResponseNorm(Op[LRNAttrs]):
    """Local response normalisation across channels."""

    name = "lrn"
    family = Family.NORM
    Attrs = LRNAttrs

    def infer(self, a: LRNAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        return inputs[0]

    def cost(self, a: LRNAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(other_ops=numel(output) * a.size)

    def module(self, a: LRNAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.LocalResponseNorm(a.size, alpha=a.alpha, beta=a.beta, k=a.k)
