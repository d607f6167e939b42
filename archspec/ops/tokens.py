"""Transformer primitives: patch embedding, class token, position embedding, self-attention, token pick."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from archspec.ops.base import (
    GLOBAL,
    Cost,
    Family,
    FunctionCall,
    ModuleCall,
    NoAttrs,
    NonNegativeInt,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    Window,
    WindowRule,
    numel,
    require_rank,
)

if TYPE_CHECKING:
    from torch import nn


class PatchEmbedAttrs(OpAttrs):
    """Embedding ``dim`` and square ``patch`` size."""

    dim: PositiveInt
    patch: PositiveInt


class PatchEmbed(Op[PatchEmbedAttrs]):
    """Cut the image into patches and project each: (C, H, W) -> (H/p * W/p, dim)."""

    name = "patch_embed"
    family = Family.TOKEN
    Attrs = PatchEmbedAttrs
    channel_attrs = ("dim",)

    def infer(self, a: PatchEmbedAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) image")
        _, h, w = inputs[0]
        if h % a.patch or w % a.patch:
            raise ShapeError(f"image {h}x{w} is not divisible into {a.patch}x{a.patch} patches")
        return ((h // a.patch) * (w // a.patch), a.dim)

    def cost(self, a: PatchEmbedAttrs, inputs: list[Shape], output: Shape) -> Cost:
        per_output = inputs[0][0] * a.patch * a.patch
        return Cost(params=a.dim * per_output + a.dim, macs=numel(output) * per_output)

    def window(self, a: PatchEmbedAttrs, inputs: list[Shape]) -> WindowRule:
        return WindowRule(Window.SLIDING, (a.patch, a.patch), (a.patch, a.patch))

    def module(self, a: PatchEmbedAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import PatchEmbed as Module

        return Module(inputs[0][0], a.dim, a.patch)

    def label(self, a: PatchEmbedAttrs) -> str:
        return f"patch_embed {a.patch}x{a.patch}"


class ClassToken(Op[NoAttrs]):
    """Prepend a learned class token: (L, D) -> (L + 1, D)."""

    name = "class_token"
    family = Family.TOKEN

    def infer(self, a: NoAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (2,), "tokens (L, D)")
        return (inputs[0][0] + 1, inputs[0][1])

    def cost(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(params=inputs[0][1])

    def module(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import ClassToken as Module

        return Module(inputs[0][1])


class PositionEmbedding(Op[NoAttrs]):
    """Add a learned position embedding to every token."""

    name = "pos_embedding"
    family = Family.TOKEN

    def infer(self, a: NoAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (2,), "tokens (L, D)")
        return inputs[0]

    def cost(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(params=numel(inputs[0]), other_ops=numel(output))

    def parameter(self, a: NoAttrs, inputs: list[Shape]) -> nn.Parameter:
        import torch

        # a parameter of the enclosing module, added in its forward, as torchvision's Encoder holds pos_embedding
        return torch.nn.Parameter(torch.empty(1, *inputs[0]).normal_(std=0.02))

    def function(self, a: NoAttrs, inputs: list[Shape]) -> FunctionCall:
        return operator.add, {}


class AttentionAttrs(OpAttrs):
    """Number of ``heads``; attention-weight ``dropout``; projection ``bias``."""

    heads: PositiveInt
    dropout: Annotated[float, Field(ge=0, le=1)] = 0.0
    bias: bool = True


class SelfAttention(Op[AttentionAttrs]):
    """Multi-head self-attention over tokens (L, D), with input and output projections.

    MACs: QKV projection L*D*3D + scores QK^T L*L*D + weighted values AV L*L*D + output projection L*D*D.
    """

    name = "self_attention"
    family = Family.ATTENTION
    Attrs = AttentionAttrs
    aliases = ("mhsa",)

    def infer(self, a: AttentionAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (2,), "tokens (L, D)")
        if inputs[0][1] % a.heads:
            raise ShapeError(f"heads={a.heads} must divide the token dimension {inputs[0][1]}")
        return inputs[0]

    def cost(self, a: AttentionAttrs, inputs: list[Shape], output: Shape) -> Cost:
        length, dim = inputs[0]
        params = 4 * dim * dim + (4 * dim if a.bias else 0)
        macs = length * dim * 3 * dim + 2 * length * length * dim + length * dim * dim
        return Cost(params=params, macs=macs, other_ops=a.heads * length * length)

    def window(self, a: AttentionAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL

    def module(self, a: AttentionAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.MultiheadAttention(inputs[0][1], a.heads, dropout=a.dropout, bias=a.bias, batch_first=True)

    def call(self, inputs: tuple[Any, ...]) -> ModuleCall:
        # queries, keys and values are the one input; the attention weights are not wanted
        return (inputs[0], inputs[0], inputs[0]), {"need_weights": False}, 0

    def label(self, a: AttentionAttrs) -> str:
        return f"self_attention h{a.heads}"


class SelectAttrs(OpAttrs):
    """Index of the token to keep (0: the class token)."""

    index: NonNegativeInt = 0


class SelectToken(Op[SelectAttrs]):
    """Keep one token: (L, D) -> (D,)."""

    name = "select_token"
    family = Family.TOKEN
    Attrs = SelectAttrs

    def infer(self, a: SelectAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (2,), "tokens (L, D)")
        if a.index >= inputs[0][0]:
            raise ShapeError(f"token index {a.index} is out of range for {inputs[0][0]} tokens")
        return (inputs[0][1],)

    def cost(self, a: SelectAttrs, inputs: list[Shape], output: Shape) -> Cost:
        return Cost()

    def module(self, a: SelectAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from archspec.ops.modules import SelectToken as Module

        return Module(a.index)
