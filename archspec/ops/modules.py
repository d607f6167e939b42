"""The few torch modules PyTorch lacks, written to be as cheap as hand-written code and export-friendly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archspec.ops.activation import activation_module


class PaddedConv2d(nn.Conv2d):
    """Conv2d with asymmetric (TensorFlow ``same``) padding ``(left, right, top, bottom)`` applied before it."""

    def __init__(self, *args, extra_padding: tuple[int, int, int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.extra_padding = extra_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, self.extra_padding), self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, extra_padding={self.extra_padding}"


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map, as torchvision's LayerNorm2d (ConvNeXt's stem, its
    downsampling and its head)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class StochasticDepth(nn.Module):
    """Drop the whole input (per sample with ``row``) with probability ``p`` during training."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            noise.div_(keep)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class Scale(nn.Module):
    """Multiply by a constant ``factor`` (Inception-ResNet's residual scaling)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class Narrow(nn.Module):
    """``length`` entries of dimension ``dim`` from ``start`` (a view, as ``Tensor.narrow``)."""

    def __init__(self, dim: int, start: int, length: int) -> None:
        super().__init__()
        self.dim, self.start, self.length = dim, start, length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.narrow(self.dim, self.start, self.length)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, length={self.length}"


class SelectToken(nn.Module):
    """The token at ``index`` of every sequence: (N, L, D) -> (N, D)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"


class ChannelShuffle(nn.Module):
    """Interleave channels across ``groups``."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection: (N, C, H, W) -> (N, L, D)."""

    def __init__(self, channels: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ClassToken(nn.Module):
    """Prepend one learned token to the sequence."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation gate with 1x1 convolutions ``fc1`` and ``fc2``."""

    def __init__(self, channels: int, squeeze: int, activation: str, gate: str) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation_module(activation)
        self.gate = activation_module(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
