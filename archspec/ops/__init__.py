"""The primitive registry: every op by name (aliases included)."""

from __future__ import annotations

from archspec.ops.activation import activation_ops
from archspec.ops.base import Op
from archspec.ops.conv import Conv
from archspec.ops.excitation import SqueezeExcite
from archspec.ops.linear import Linear
from archspec.ops.norm import BatchNorm, LayerNorm, LocalResponseNorm
from archspec.ops.pool import AdaptiveAvgPool, AvgPool, GlobalAvgPool, MaxPool, SpatialMean
from archspec.ops.regularization import Dropout, StochasticDepth
from archspec.ops.tensor import Add, ChannelShuffle, Concat, Flatten, LayerScale, Multiply, Reshape, Scale, Slice
from archspec.ops.tokens import ClassToken, PatchEmbed, PositionEmbedding, SelectToken, SelfAttention
from archspec.ops.windows import PartitionAttention, PatchMerge, WindowAttention


def _registry() -> dict[str, Op]:
    ops: list[Op] = [
        Conv(), BatchNorm(), LayerNorm(), LocalResponseNorm(), *activation_ops(),
        MaxPool(), AvgPool(), AdaptiveAvgPool(), GlobalAvgPool(), SpatialMean(), Linear(), Dropout(), StochasticDepth(),
        Add(), Multiply(), Concat(), Flatten(), Reshape(), ChannelShuffle(), Scale(), LayerScale(), Slice(),
        PatchEmbed(), ClassToken(), PositionEmbedding(), SelfAttention(), SelectToken(), SqueezeExcite(),
        WindowAttention(), PartitionAttention(), PatchMerge(),
    ]
    table: dict[str, Op] = {}
    for op in ops:
        for name in (op.name, *op.aliases):
            table[name] = op
    return table


OPS: dict[str, Op] = _registry()

__all__ = ["OPS", "Op"]
