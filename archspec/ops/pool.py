"""Pooling: max/avg windows (with ceil_mode), adaptive and global average pooling."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from archspec.ops.base import (
    GLOBAL,
    IDENTITY,
    A,
    Cost,
    Family,
    Int,
    Op,
    OpAttrs,
    Shape,
    ShapeError,
    Size2,
    Window,
    WindowRule,
    numel,
    pair,
    require_rank,
)
from archspec.ops.conv import window_output

if TYPE_CHECKING:
    from torch import nn


class PoolAttrs(OpAttrs):
    """``kernel``; ``stride`` defaults to the kernel; ``padding`` is symmetric."""

    kernel: Size2
    stride: Size2 | None = None
    padding: Int | tuple[Int, Int] = 0
    ceil_mode: bool = False


class AvgPoolAttrs(PoolAttrs):
    """Average pooling also chooses whether padding counts in the average."""

    count_include_pad: bool = True


P = TypeVar("P", bound=PoolAttrs)


class _WindowPool(Op[P]):
    family = Family.POOL

    def _stride(self, a: P) -> tuple[int, int]:
        return pair(a.stride if a.stride is not None else a.kernel)

    def infer(self, a: P, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        kernel, stride, pad = pair(a.kernel), self._stride(a), pair(a.padding)
        if any(p < 0 or p > k // 2 for p, k in zip(pad, kernel, strict=True)):
            raise ShapeError(f"padding {a.padding} must be between 0 and half the kernel {a.kernel}")
        size = [window_output(inputs[0][1 + i], kernel[i], stride[i], (pad[i], pad[i]), 1, a.ceil_mode)
                for i in range(2)]
        return (inputs[0][0], *size)

    def cost(self, a: P, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(a.kernel)
        return Cost(other_ops=numel(output) * kh * kw)

    def window(self, a: P, inputs: list[Shape]) -> WindowRule:
        return WindowRule(Window.SLIDING, pair(a.kernel), self._stride(a), pair(a.padding))

    def label(self, a: P) -> str:
        kh, kw = pair(a.kernel)
        sh, _ = self._stride(a)
        return f"{self.name} {kh}x{kw}/{sh}"


class MaxPool(_WindowPool[PoolAttrs]):
    """Max pooling."""

    name = "maxpool"
    Attrs = PoolAttrs

    def module(self, a: PoolAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.MaxPool2d(pair(a.kernel), self._stride(a), pair(a.padding), ceil_mode=a.ceil_mode)


class AvgPool(_WindowPool[AvgPoolAttrs]):
    """Average pooling."""

    name = "avgpool"
    Attrs = AvgPoolAttrs

    def module(self, a: AvgPoolAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.AvgPool2d(pair(a.kernel), self._stride(a), pair(a.padding), ceil_mode=a.ceil_mode,
                            count_include_pad=a.count_include_pad)


class AdaptiveAttrs(OpAttrs):
    """Output ``size`` (height, width)."""

    size: Size2 = 1


class _AveragePool(Op[A]):
    """Average pooling: one cheap op per input element."""

    family = Family.POOL

    def cost(self, a: A, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(other_ops=numel(inputs[0]))


class AdaptiveAvgPool(_AveragePool[AdaptiveAttrs]):
    """Adaptive average pooling to a fixed output size."""

    name = "adaptive_avgpool"
    Attrs = AdaptiveAttrs

    def infer(self, a: AdaptiveAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        return (inputs[0][0], *pair(a.size))

    def window(self, a: AdaptiveAttrs, inputs: list[Shape]) -> WindowRule:
        size, out = inputs[0][1:], pair(a.size)
        if tuple(size) == out:
            return IDENTITY
        if all(s % o == 0 for s, o in zip(size, out, strict=True)) and out != (1, 1):
            step = (size[0] // out[0], size[1] // out[1])
            return WindowRule(Window.SLIDING, step, step)
        return GLOBAL

    def module(self, a: AdaptiveAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.AdaptiveAvgPool2d(pair(a.size))


class GlobalAvgPool(_AveragePool[OpAttrs]):
    """Average over all positions: (C, H, W) -> (C, 1, 1)."""

    name = "global_avgpool"
    Attrs = OpAttrs

    def infer(self, a: OpAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        return (inputs[0][0], 1, 1)

    def window(self, a: OpAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL

    def module(self, a: OpAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)
