"""Convolution: groups, dilation, explicit, automatic or TF-style ``same`` padding."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from archspec.ops.base import (
    Cost,
    Family,
    Int,
    Op,
    OpAttrs,
    PositiveInt,
    Shape,
    ShapeError,
    Size2,
    Window,
    WindowRule,
    numel,
    pair,
    require_rank,
)

if TYPE_CHECKING:
    from torch import nn

Padding = Int | tuple[Int, Int] | Literal["auto", "same"]


class ConvAttrs(OpAttrs):
    """``out`` channels, ``kernel``; ``padding: auto`` pads (k-1)/2*dilation, ``same`` pads like TensorFlow."""

    out: PositiveInt
    kernel: Size2
    stride: Size2 = 1
    padding: Padding = "auto"
    dilation: Size2 = 1
    groups: PositiveInt = 1
    bias: bool = True


def conv_padding(size: int, kernel: int, stride: int, dilation: int, padding: Padding, axis: int) -> tuple[int, int]:
    """(before, after) padding along one axis."""
    if padding == "auto":
        each = dilation * (kernel - 1) // 2
        return each, each
    if padding == "same":
        total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return total // 2, total - total // 2
    each = pair(padding)[axis]
    if each < 0:
        raise ShapeError(f"padding must be >= 0, got {each}")
    return each, each


def window_output(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int,
                  ceil_mode: bool = False) -> int:
    """Output length of a sliding window (PyTorch's rule, including ceil_mode)."""
    span = size + pads[0] + pads[1] - dilation * (kernel - 1) - 1
    if ceil_mode:  # a last, partial window is kept when it starts inside the input or its left padding
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pads[0]:
            out -= 1
    else:
        out = span // stride + 1 if span >= 0 else 0
    if out < 1:
        raise ShapeError(f"kernel {kernel} (dilation {dilation}) is larger than the padded input {size + sum(pads)}")
    return out


class Conv(Op[ConvAttrs]):
    """2-D convolution over a (C, H, W) feature map."""

    name = "conv"
    family = Family.CONV
    Attrs = ConvAttrs
    channel_attrs = ("out",)

    def _geometry(self, a: ConvAttrs, shape: Shape) -> tuple[Shape, list[tuple[int, int]]]:
        kernel, stride, dilation = pair(a.kernel), pair(a.stride), pair(a.dilation)
        pads = [conv_padding(shape[1 + i], kernel[i], stride[i], dilation[i], a.padding, i) for i in range(2)]
        out = tuple(window_output(shape[1 + i], kernel[i], stride[i], pads[i], dilation[i]) for i in range(2))
        return out, pads

    def infer(self, a: ConvAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        channels = inputs[0][0]
        if channels % a.groups or a.out % a.groups:
            raise ShapeError(f"groups={a.groups} must divide input channels {channels} and out {a.out}")
        (h, w), _ = self._geometry(a, inputs[0])
        return (a.out, h, w)

    def cost(self, a: ConvAttrs, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(a.kernel)
        per_output = inputs[0][0] // a.groups * kh * kw
        return Cost(params=a.out * per_output + (a.out if a.bias else 0), macs=numel(output) * per_output)

    def window(self, a: ConvAttrs, inputs: list[Shape]) -> WindowRule:
        _, pads = self._geometry(a, inputs[0])
        return WindowRule(Window.SLIDING, pair(a.kernel), pair(a.stride), (pads[0][0], pads[1][0]), pair(a.dilation))

    def module(self, a: ConvAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        from archspec.ops.modules import PaddedConv2d

        _, pads = self._geometry(a, inputs[0])
        options: dict[str, Any] = {"stride": pair(a.stride), "dilation": pair(a.dilation), "groups": a.groups,
                                   "bias": a.bias}
        if all(before == after for before, after in pads):  # torch's own class, which hook-based counters know
            return nn.Conv2d(inputs[0][0], a.out, pair(a.kernel), padding=(pads[0][0], pads[1][0]), **options)
        return PaddedConv2d(inputs[0][0], a.out, pair(a.kernel),
                            extra_padding=(pads[1][0], pads[1][1], pads[0][0], pads[0][1]), **options)

    def label(self, a: ConvAttrs) -> str:
        kh, kw = pair(a.kernel)
        text = f"conv {kh}x{kw}" if kh != kw else f"conv {kh}x{kh}"
        if pair(a.stride) != (1, 1):
            text += f"/{a.stride if isinstance(a.stride, int) else 'x'.join(map(str, a.stride))}"
        if a.groups > 1:
            text += f" g{a.groups}"
        return text
