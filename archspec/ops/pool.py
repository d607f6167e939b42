"""Pooling: max/avg windows (with ceil_mode), adaptive and global average pooling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from archspec.ops.base import (
    GLOBAL,
    IDENTITY,
    A,
    Cost,
    Family,
    FunctionCall,
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
    from torch import Tensor, nn


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

    def function(self, a: PoolAttrs, inputs: list[Shape]) -> FunctionCall:
        import torch.nn.functional as F

        return F.max_pool2d, {"kernel_size": pair(a.kernel), "stride": self._stride(a), "padding": pair(a.padding),
                              "ceil_mode": a.ceil_mode}


def avg_pool2d(x: Tensor, **options: Any) -> Tensor:
    """``F.avg_pool2d``, looked up when called, as hand-written code does: torch.fx would name the C function
    itself (``torch._C._nn.avg_pool2d``), which tools that patch ``torch.nn.functional`` (ptflops) do not see."""
    import torch.nn.functional as F

    return F.avg_pool2d(x, **options)


class AvgPool(_WindowPool[AvgPoolAttrs]):
    """Average pooling."""

    name = "avgpool"
    Attrs = AvgPoolAttrs

    def module(self, a: AvgPoolAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        from torch import nn

        return nn.AvgPool2d(pair(a.kernel), self._stride(a), pair(a.padding), ceil_mode=a.ceil_mode,
                            count_include_pad=a.count_include_pad)

    def function(self, a: AvgPoolAttrs, inputs: list[Shape]) -> FunctionCall:
        return avg_pool2d, {"kernel_size": pair(a.kernel), "stride": self._stride(a), "padding": pair(a.padding),
                              "ceil_mode": a.ceil_mode, "count_include_pad": a.count_include_pad}


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

    def function(self, a: AdaptiveAttrs, inputs: list[Shape]) -> FunctionCall:
        import torch.nn.functional as F

        return F.adaptive_avg_pool2d, {"output_size": pair(a.size)}


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

    def function(self, a: OpAttrs, inputs: list[Shape]) -> FunctionCall:
        import torch.nn.functional as F

        return F.adaptive_avg_pool2d, {"output_size": 1}


def spatial_mean(x: Tensor) -> Tensor:
    """The mean over the spatial axes: ``x.mean((2, 3))``."""
    return x.mean((2, 3))


class SpatialMean(_AveragePool[OpAttrs]):
    """Average over all positions and drop them: (C, H, W) -> (C,), as ``x.mean([2, 3])`` (torchvision's
    MNASNet and ShuffleNet V2 end so, where others pool to 1x1 and flatten). Computed in the forward."""

    name = "mean"
    Attrs = OpAttrs

    def infer(self, a: OpAttrs, inputs: list[Shape]) -> Shape:
        require_rank(self.name, inputs, (3,), "a (C, H, W) feature map")
        return (inputs[0][0],)

    def window(self, a: OpAttrs, inputs: list[Shape]) -> WindowRule:
        return GLOBAL

    def function(self, a: OpAttrs, inputs: list[Shape]) -> FunctionCall:
        return spatial_mean, {}

