"""Normalisation: batch norm, layer norm, local response norm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from archspec.ops.base import Cost, Family, Op, OpAttrs, PositiveInt, Shape, numel, require_rank

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
    """``eps`` as in PyTorch."""

    eps: Annotated[float, Field(gt=0)] = 1e-5


class LayerNorm(Op[LayerNormAttrs]):
    """Layer normalisation over the last dimension (token features)."""

    name = "layernorm"
    family = Family.NORM
    Attrs = LayerNormAttrs

    def cost(self, a: LayerNormAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(params=2 * inputs[0][-1], other_ops=numel(output))

    def module(self, a: LayerNormAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.LayerNorm(inputs[0][-1], eps=a.eps)


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
