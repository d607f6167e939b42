"""Structural tensor ops: merges (add, multiply, concat), scaling, flatten, reshape, channel shuffle."""

from __future__ import annotations

import math
import operator
from functools import reduce
from typing import TYPE_CHECKING

from pydantic import Field

from archspec.ops.base import (
    GLOBAL,
    IDENTITY,
    Cost,
    Family,
    FunctionCall,
    Int,
    NoAttrs,
    NonNegativeInt,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    WindowRule,
    numel,
    require_rank,
)

if TYPE_CHECKING:
    from torch import Tensor, nn


def sum_all(*tensors: Tensor) -> Tensor:
    """Sum of several tensors."""
    return reduce(operator.add, tensors)


def product_all(*tensors: Tensor) -> Tensor:
    """Product of several tensors."""
    return reduce(operator.mul, tensors)


def concat(*tensors: Tensor, dim: int) -> Tensor:
    """Concatenate tensors along ``dim``."""
    import torch

    return torch.cat(tensors, dim)


class Add(Op[NoAttrs]):
    """Element-wise sum of two or more tensors of one shape (residual merge)."""

    name = "add"
    family = Family.TENSOR
    elementwise = True
    arity = None

    def infer(self, a: NoAttrs, inputs: list[Shape]) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            raise ShapeError(f"add needs equal shapes, got {' + '.join(str(list(s)) for s in inputs)}")
        return inputs[0]

    def cost(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(other_ops=numel(output) * (len(inputs) - 1))

    def function(self, a: NoAttrs, inputs: list[Shape]) -> FunctionCall:
        return (operator.add if len(inputs) == 2 else sum_all), {}


class Multiply(Op[NoAttrs]):
    """Element-wise product with broadcasting, e.g. a (C, 1, 1) gate times a (C, H, W) map."""

    name = "multiply"
    family = Family.TENSOR
    arity = None
    aliases = ("mul",)

    def infer(self, a: NoAttrs, inputs: list[Shape]) -> Shape:
        rank = max(len(s) for s in inputs)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in inputs]
        out = []
        for sizes in zip(*padded, strict=True):
            big = max(sizes)
            if any(s not in (1, big) for s in sizes):
                raise ShapeError(f"multiply cannot broadcast {' * '.join(str(list(s)) for s in inputs)}")
            out.append(big)
        return tuple(out)

    def cost(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(other_ops=numel(output) * (len(inputs) - 1))

    def function(self, a: NoAttrs, inputs: list[Shape]) -> FunctionCall:
        return (operator.mul if len(inputs) == 2 else product_all), {}


class ScaleAttrs(OpAttrs):
    """Constant factor (Inception-ResNet's residual scaling)."""

    factor: float


class Scale(Op[ScaleAttrs]):
    """Multiply by a constant factor."""

    name = "scale"
    family = Family.TENSOR
    elementwise = True
    Attrs = ScaleAttrs

    def module(self, a: ScaleAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import Scale as Module

        return Module(a.factor)

    def label(self, a: ScaleAttrs) -> str:
        return f"x{a.factor:g}"


class LayerScaleAttrs(OpAttrs):
    """The learned per-channel factors' initial value (ConvNeXt's 1e-6)."""

    init: float = 1e-6


class LayerScale(Op[LayerScaleAttrs]):
    """Multiply each channel (token feature) by a learned factor: a (C, 1, 1) parameter on a map, (D,) on tokens."""

    name = "layer_scale"
    family = Family.TENSOR
    Attrs = LayerScaleAttrs

    def cost(self, a: LayerScaleAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(params=numel(self.factors(inputs[0])),
                    other_ops=numel(output))

    def factors(self, shape: Shape) -> Shape:
        """The parameter's shape: one factor per channel, broadcast over the rest."""
        return (shape[0], 1, 1) if len(shape) == 3 else shape[-1:]

    def parameter(self, a: LayerScaleAttrs, inputs: list[Shape]) -> nn.Parameter:
        import torch

        # a parameter of the enclosing module, as torchvision's CNBlock holds layer_scale
        return torch.nn.Parameter(torch.full(self.factors(inputs[0]), a.init))

    def function(self, a: LayerScaleAttrs, inputs: list[Shape]) -> FunctionCall:
        return operator.mul, {}

    def label(self, a: LayerScaleAttrs) -> str:
        return f"layer_scale {a.init:g}"


class SliceAttrs(OpAttrs):
    """Keep ``start:stop`` along ``dim`` (0 = channels); ``stop`` defaults to the end."""

    start: NonNegativeInt = 0
    stop: PositiveInt | None = None
    dim: NonNegativeInt = 0


class Slice(Op[SliceAttrs]):
    """A contiguous slice of channels (ShuffleNet v2's channel split)."""

    name = "slice"
    family = Family.TENSOR
    Attrs = SliceAttrs

    def _stop(self, a: SliceAttrs, shape: Shape) -> int:
        return shape[a.dim] if a.stop is None else a.stop

    def infer(self, a: SliceAttrs, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if a.dim >= len(shape):
            raise ShapeError(f"slice dim {a.dim} is out of range for shape {list(shape)}")
        stop = self._stop(a, shape)
        if not a.start < stop <= shape[a.dim]:
            raise ShapeError(f"slice {a.start}:{stop} is empty or beyond size {shape[a.dim]}")
        return (*shape[: a.dim], stop - a.start, *shape[a.dim + 1:])

    def cost(self, a: SliceAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def module(self, a: SliceAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import Narrow

        return Narrow(a.dim + 1, a.start, self._stop(a, inputs[0]) - a.start)


class ConcatAttrs(OpAttrs):
    """Dimension to concatenate along (0 = channels/tokens; the batch is not counted)."""

    dim: NonNegativeInt = 0


class Concat(Op[ConcatAttrs]):
    """Concatenation along channels (Inception, DenseNet)."""

    name = "concat"
    family = Family.TENSOR
    arity = None
    Attrs = ConcatAttrs

    def infer(self, a: ConcatAttrs, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        if a.dim >= len(first):
            raise ShapeError(f"concat dim {a.dim} is out of range for shape {list(first)}")
        for shape in inputs[1:]:
            if len(shape) != len(first) or any(
                x != y for i, (x, y) in enumerate(zip(shape, first, strict=True)) if i != a.dim
            ):
                raise ShapeError(
                    f"concat needs shapes equal outside dim {a.dim}, got {', '.join(str(list(s)) for s in inputs)}"
                )
        return (*first[: a.dim], sum(s[a.dim] for s in inputs), *first[a.dim + 1:])

    def cost(self, a: ConcatAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def function(self, a: ConcatAttrs, inputs: list[Shape]) -> FunctionCall:
        return concat, {"dim": a.dim + 1}


class FlattenAttrs(OpAttrs):
    """First dimension to flatten from (0: everything; the batch is not counted)."""

    start: NonNegativeInt = 0


class Flatten(Op[FlattenAttrs]):
    """Flatten trailing dimensions into one, e.g. (C, 1, 1) -> (C,)."""

    name = "flatten"
    family = Family.TENSOR
    Attrs = FlattenAttrs

    def infer(self, a: FlattenAttrs, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if a.start >= len(shape):
            raise ShapeError(f"flatten start {a.start} is out of range for shape {list(shape)}")
        return (*shape[: a.start], math.prod(shape[a.start:]))

    def cost(self, a: FlattenAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def window(self, a: FlattenAttrs, inputs: list[Shape]) -> WindowRule:
        spatial = inputs[0][1:] if a.start == 0 else ()
        return GLOBAL if math.prod(spatial) > 1 else IDENTITY

    def module(self, a: FlattenAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.Flatten(a.start + 1)


class ReshapeAttrs(OpAttrs):
    """Target shape without the batch dimension; one entry may be -1."""

    shape: list[Int] = Field(max_length=8)


class Reshape(Op[ReshapeAttrs]):
    """Reshape to a given shape (batch kept)."""

    name = "reshape"
    family = Family.TENSOR
    Attrs = ReshapeAttrs

    def infer(self, a: ReshapeAttrs, inputs: list[Shape]) -> Shape:
        total, known = numel(inputs[0]), [s for s in a.shape if s != -1]
        if len(known) < len(a.shape) - 1 or any(s < 1 for s in known):
            raise ShapeError(f"reshape sizes must be >= 1 with at most one -1, got {a.shape}")
        if not known or total % math.prod(known):
            raise ShapeError(f"cannot reshape {list(inputs[0])} to {a.shape}")
        fill = total // math.prod(known)
        out = tuple(fill if s == -1 else s for s in a.shape)
        if numel(out) != total:
            raise ShapeError(f"cannot reshape {list(inputs[0])} to {a.shape}")
        return out

    def cost(self, a: ReshapeAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def window(self, a: ReshapeAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL

    def module(self, a: ReshapeAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.Unflatten(1, output) if len(inputs[0]) == 1 else nn.Sequential(nn.Flatten(1), nn.Unflatten(1, output))


class ShuffleAttrs(OpAttrs):
    """Number of channel groups to interleave."""

    groups: PositiveInt


class ChannelShuffle(Op[ShuffleAttrs]):
    """Channel shuffle (ShuffleNet): interleave channels across groups."""

    name = "channel_shuffle"
    family = Family.TENSOR
    Attrs = ShuffleAttrs

    def infer(self, a: ShuffleAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        if inputs[0][0] % a.groups:
            raise ShapeError(f"groups={a.groups} must divide channels {inputs[0][0]}")
        return inputs[0]

    def cost(self, a: ShuffleAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def module(self, a: ShuffleAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import ChannelShuffle as Module

        return Module(a.groups)
