"""The few torch modules PyTorch lacks, written to be as cheap as hand-written code and export-friendly."""

from __future__ import annotations

import math

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


class PatchMerge(nn.Module):
    """Each 2x2 neighbourhood's channels concatenated: (N, H, W, C) -> (N, ceil(H/2), ceil(W/2), 4C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[1], x.shape[2]
        x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        return torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)


def _relative_index(window: int) -> torch.Tensor:
    """For every (query, key) pair of a window's M*M positions, row-major, the row of its offset (dy, dx) in a
    (2M - 1)^2 table: (dy + M - 1) * (2M - 1) + dx + M - 1, flattened."""
    rows, columns = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    rows, columns = rows.flatten(), columns.flatten()
    dy = rows[:, None] - rows[None, :] + window - 1
    dx = columns[:, None] - columns[None, :] + window - 1
    return (dy * (2 * window - 1) + dx).flatten()


def _log_spaced_offsets(window: int) -> torch.Tensor:
    """Swin V2's inputs of the position-bias MLP: every offset (dy, dx) scaled to [-8, 8], then sign * log2(1 + |t|)
    / 3, as a (1, 2M - 1, 2M - 1, 2) table."""
    steps = torch.arange(1 - window, window, dtype=torch.float32) / (window - 1) * 8
    steps = torch.sign(steps) * torch.log2(steps.abs() + 1.0) / 3.0
    rows, columns = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([rows, columns], -1).unsqueeze(0)


def _regions(size: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """Along one rolled axis, which side of the roll's seams each position lies on (0, 1 or 2)."""
    positions = torch.arange(size, device=device)
    return (positions >= size - window).long() + (positions >= size - shift).long()


def _partition(x: torch.Tensor, m: int, grid: bool) -> torch.Tensor:
    """An (N, H, W, C) map as (groups, M*M, C): its M x M windows, or its M x M grids (positions H/M apart)."""
    _, height, width, channels = x.shape
    # -1 for the batch, not its size: an exported graph then computes no shapes from the input's
    if grid:
        x = x.view(-1, m, height // m, m, width // m, channels).permute(0, 2, 4, 1, 3, 5)
    else:
        x = x.view(-1, height // m, m, width // m, m, channels).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, channels)


def _departition(x: torch.Tensor, m: int, grid: bool, height: int, width: int) -> torch.Tensor:
    """The inverse of ``_partition``: (groups, M*M, C) back to an (N, H, W, C) map."""
    channels = x.shape[-1]
    x = x.view(-1, height // m, width // m, m, m, channels)
    x = x.permute(0, 3, 1, 4, 2, 5) if grid else x.permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, height, width, channels)


class WindowAttention(nn.Module):
    """Multi-head self-attention within (shifted) windows of an (N, H, W, C) map, with Swin's relative position
    bias (``version`` 1) or Swin V2's cosine attention and continuous position bias (``version`` 2); ``shift`` is
    per axis, already zero where one window covers the axis."""

    relative_position_index: torch.Tensor
    relative_coords_table: torch.Tensor

    def __init__(self, dim: int, heads: int, window: int, shift: tuple[int, int], version: int,
                 attention_dropout: float, dropout: float) -> None:
        super().__init__()
        self.heads, self.window, self.shift, self.version = heads, window, shift, version
        self.attention_dropout, self.dropout = attention_dropout, dropout
        # the weights are read in the forward (not called as modules), the parameter order torchvision's
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        offsets = (2 * window - 1) ** 2
        if version == 1:
            self.relative_position_bias_table = nn.Parameter(torch.zeros(offsets, heads))
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        else:
            self.register_buffer("relative_coords_table", _log_spaced_offsets(window))
        self.register_buffer("relative_position_index", _relative_index(window))
        if version == 2:
            self.logit_scale = nn.Parameter(torch.full((heads, 1, 1), 10.0).log())
            self.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, heads, bias=False))
            with torch.no_grad():
                self.qkv.bias[dim:2 * dim].zero_()

    def position_bias(self) -> torch.Tensor:
        """The bias every head adds to its (N, N) scores: (1, heads, N, N)."""
        table: torch.Tensor = self.relative_position_bias_table if self.version == 1 else \
            self.cpb_mlp(self.relative_coords_table).view(-1, self.heads)
        tokens = self.window * self.window
        bias = table[self.relative_position_index].view(tokens, tokens, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        return bias if self.version == 1 else 16 * torch.sigmoid(bias)

    def mask(self, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """-100 where a (query, key) pair of a rolled window comes from different sides of a seam, else 0:
        (windows, N, N), of ``like``'s type and device."""
        m, device = self.window, like.device
        label = _regions(height, m, self.shift[0], device)[:, None] * 3 + _regions(width, m, self.shift[1], device)
        label = label.view(height // m, m, width // m, m).permute(0, 2, 1, 3).reshape(-1, m * m)
        apart = label.unsqueeze(1) != label.unsqueeze(2)
        return like.new_zeros(apart.shape).masked_fill(apart, -100.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, height, width, channels = x.shape
        m, heads = self.window, self.heads
        x = F.pad(x, (0, 0, 0, (m - width % m) % m, 0, (m - height % m) % m))
        padded_height, padded_width = x.shape[1], x.shape[2]
        shifted = sum(self.shift) > 0
        if shifted:
            x = torch.roll(x, shifts=(-self.shift[0], -self.shift[1]), dims=(1, 2))
        windows = _partition(x, m, False)
        qkv_bias: torch.Tensor = self.qkv.bias
        if self.version == 2:  # V2 has no key bias: its third of the bias is held at zero
            qkv_bias = torch.cat([qkv_bias[:channels], torch.zeros_like(qkv_bias[channels:2 * channels]),
                                  qkv_bias[2 * channels:]])
        qkv = F.linear(windows, self.qkv.weight, qkv_bias)
        q, k, v = qkv.reshape(-1, m * m, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
        if self.version == 1:
            scores = (q * (channels // heads) ** -0.5).matmul(k.transpose(-2, -1))
        else:
            scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            scores = scores * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        scores = scores + self.position_bias()
        if shifted:
            mask = self.mask(padded_height, padded_width, scores)
            scores = (scores.view(-1, mask.shape[0], heads, m * m, m * m) + mask.unsqueeze(1).unsqueeze(0))
            scores = scores.view(-1, heads, m * m, m * m)
        weights = F.dropout(F.softmax(scores, dim=-1), p=self.attention_dropout, training=self.training)
        out = weights.matmul(v).transpose(1, 2).flatten(-2)
        out = F.dropout(F.linear(out, self.proj.weight, self.proj.bias), p=self.dropout, training=self.training)
        out = _departition(out, m, False, padded_height, padded_width)  # not a grid
        if shifted:
            out = torch.roll(out, shifts=self.shift, dims=(1, 2))
        return out[:, :height, :width].contiguous() if (padded_height, padded_width) != (height, width) else out

    def extra_repr(self) -> str:
        return f"heads={self.heads}, window={self.window}, shift={self.shift}, version={self.version}"


class PartitionAttention(nn.Module):
    """MaxViT's multi-head self-attention within the M x M blocks or grids of an (N, H, W, C) map that M divides,
    with a relative-position-bias table; its projections are layers called on the grouped tokens, as torchvision's,
    and ``scale`` divides the keys."""

    relative_position_index: torch.Tensor

    def __init__(self, dim: int, heads: int, window: int, grid: bool, scale: float) -> None:
        super().__init__()
        self.heads, self.window, self.grid, self.scale = heads, window, grid, scale
        self.to_qkv = nn.Linear(dim, 3 * dim)
        self.merge = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_index(window))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, height, width, channels = x.shape
        m, heads, tokens = self.window, self.heads, self.window * self.window
        # (N, groups, M*M, C) and einsum, as torchvision's: hook-based counters see the same calls on the same shapes
        groups = _partition(x, m, self.grid).view(-1, height * width // tokens, tokens, channels)
        qkv = self.to_qkv(groups).unflatten(-1, (3, heads, channels // heads))
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias_table[self.relative_position_index].view(tokens, tokens, heads)
        scores = torch.einsum("bghid,bghjd->bghij", q, k * self.scale) + bias.permute(2, 0, 1).unsqueeze(0)
        out = torch.einsum("bghij,bghjd->bghid", F.softmax(scores, dim=-1), v).transpose(2, 3).flatten(-2)
        return _departition(self.merge(out), m, self.grid, height, width)

    def extra_repr(self) -> str:
        return f"heads={self.heads}, window={self.window}, grid={self.grid}"
