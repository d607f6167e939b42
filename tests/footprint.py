"""Gradient footprints: the input pixels that one output unit of a linearised copy of a torch module depends on.

Linearising keeps every window and every wire and removes what could hide a dependence: activations, BatchNorm
and LayerNorm become the identity, layer scales 1, max pooling becomes the sum over the same windows, every conv
and linear layer gets positive constant weights and no bias, and the model runs in eval mode (dropout off) on an
all-ones input.
Every value is then positive (so functional ReLUs, as in torchvision's Inception blocks, pass it unchanged), and
the gradient of one output unit is non-zero exactly where some path of windows reaches the input.
Swin's window attention keeps its windows, shift and mask and loses its weights: each output is the sum of the values
of the tokens its query may attend to (``WindowSum``); MaxViT's attention, on tokens its layer has already grouped
into blocks or grids, becomes the sum over each group (``GroupSum``).
Squeeze-excitation modules get their gate held at 1 (the local path) in some samples of the batch and live
(whole-image context) in the others.

A conv whose weights all equal ``c`` computes ``c`` times the window sum of the sum of its group's input channels,
the same for each output channel of the group: ``ConstantConv`` computes it that way (equal to ``nn.Conv2d`` with
constant weights, as test_linearised_layers_equal_torch_layers_with_constant_weights checks), at a fraction of the
cost and without weight tensors.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

import timm.layers
import timm.models._efficientnet_blocks
import torch
import torch.nn.functional as F
import torchvision.ops
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.maxvit import RelativePositionalMultiHeadAttention
from torchvision.models.swin_transformer import ShiftedWindowAttention, shifted_window_attention

# squeeze-excitation: x * gate(x), the gate computed from the whole map
GATES = (torchvision.ops.SqueezeExcitation, timm.layers.SEModule, timm.layers.SqueezeExcite,
         timm.layers.EffectiveSEModule, timm.models._efficientnet_blocks.SqueezeExcite)
# pointwise non-linearities (one left out would show: a clipping one hides dependences, the test fails)
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.GELU, nn.Tanh, nn.ELU,
               nn.LeakyReLU, nn.Mish)
# learned per-channel factors, held by a block itself (torchvision's CNBlock): set to 1, they keep every path
LAYER_SCALES = ("layer_scale",)
# adaptive pooling resamples a map to a fixed size: its output is not one of the network's feature maps
RESAMPLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def pair(value: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; pairs pass through."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class ConstantConv(nn.Module):
    """``conv`` with every weight ``1 / fan_in`` and no bias, computed as a window sum of channel sums."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if conv.padding_mode != "zeros":
            raise TypeError(f"{conv}: padding mode {conv.padding_mode!r} is not linearised")
        self.window = {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation,
                       "groups": conv.groups}
        self.kernel = conv.kernel_size
        self.fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        self.per_group = conv.out_channels // conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The constant-weight convolution of ``x``."""
        groups, padding = self.window["groups"], self.window["padding"]
        sums = x.unflatten(1, (groups, -1)).sum(2)
        if self.window["dilation"] == (1, 1) and not isinstance(padding, str):  # the same sums, pooling is faster
            padded = F.pad(sums, (padding[1], padding[1], padding[0], padding[0]))
            window = F.avg_pool2d(padded, self.kernel, self.window["stride"], divisor_override=1)
        else:
            window = F.conv2d(sums, x.new_ones(groups, 1, *self.kernel), **self.window)
        return (window / self.fan_in).repeat_interleave(self.per_group, dim=1)


class ConstantLinear(nn.Module):
    """``linear`` with every weight ``1 / in_features`` and no bias."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.features = (linear.in_features, linear.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The constant-weight linear map of ``x``."""
        mean = x.sum(-1, keepdim=True) / self.features[0]
        return mean.expand(*x.shape[:-1], self.features[1]).contiguous()


def attended(scores: torch.Tensor, dim: int) -> torch.Tensor:
    """1 for each key a query may attend to, 0 for those its mask (-100) hides: a softmax with the weights left out
    and no gradient of its own, so that a unit's gradient flows through the values alone."""
    return (scores > -50).to(scores.dtype)


class WindowSum(nn.Module):
    """``attention`` (torchvision's shifted-window attention, V1 or V2) computed by torchvision's own function
    (padding, roll, mask) with zero queries, key, value and output weights all ``1 / channels``, no biases, and its
    softmax replaced by ``attended``. Every key and value channel is then the token's channel mean and every head's
    scores the mask alone, so it runs as one head on that mean, expanded to the channels: the same values."""

    def __init__(self, attention: ShiftedWindowAttention) -> None:
        super().__init__()
        self.window, self.shift = attention.window_size, attention.shift_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each token's sum of the channel means of the tokens it attends to, in every channel."""
        tokens = self.window[0] * self.window[1]
        # zero queries: every score is the mask alone (0, or -100 across a seam), whatever the values have grown to
        qkv, proj = torch.tensor([[0.0], [1.0], [1.0]], dtype=x.dtype), x.new_ones(1, 1)
        bias = x.new_zeros(1, 1, tokens, tokens)
        with mock.patch.object(F, "softmax", attended):
            mean = shifted_window_attention(x.mean(-1, keepdim=True), qkv, proj, bias, self.window, 1, self.shift,
                                            training=False)
        return mean.expand_as(x)


class GroupSum(nn.Module):
    """torchvision's MaxViT attention on (N, groups, P, C) tokens with zero query weights, key, value and output
    weights all ``1 / channels``, no biases and ``attended`` for its softmax: each token's sum of the channel means
    of its group's tokens, in every channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The group sums of the channel means, expanded to the channels."""
        return x.mean(-1, keepdim=True).sum(-2, keepdim=True).expand_as(x)


class Gate(nn.Module):
    """A squeeze-excitation module with its gate held at 1 in the first ``local`` samples, live in the others."""

    def __init__(self, excite: nn.Module, local: int) -> None:
        super().__init__()
        self.excite, self.local = excite, local

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the local samples, the module's output in the live ones."""
        return torch.cat([x[: self.local], self.excite(x[self.local:])])


def window_sum(x: torch.Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> torch.Tensor:
    """``F.max_pool2d``'s windows (kernel, stride, padding, ceil_mode: torch's pooling output size) summed."""
    if pair(dilation) != (1, 1) or return_indices:
        raise TypeError(f"max pooling with dilation {dilation} or indices is not linearised")
    return F.avg_pool2d(x, kernel_size, stride if stride else None, padding, ceil_mode, divisor_override=1)


def linearise(model: nn.Module, local: int) -> int:
    """Linearise ``model`` in place, squeeze-excitation live from sample ``local`` on; the number of gates."""
    gates = 0
    for name in LAYER_SCALES:
        if isinstance(model._parameters.get(name), nn.Parameter):
            ones = torch.ones_like(model._parameters.pop(name), dtype=torch.float64)
            setattr(model, name, ones)
    for name, child in model.named_children():
        if isinstance(child, ShiftedWindowAttention):
            setattr(model, name, WindowSum(child))
        elif isinstance(child, RelativePositionalMultiHeadAttention):
            setattr(model, name, GroupSum())
        elif type(child) is nn.Conv2d:
            setattr(model, name, ConstantConv(child))
        elif type(child) is nn.Linear:
            setattr(model, name, ConstantLinear(child))
        elif isinstance(child, nn.Conv2d | nn.Linear):
            raise TypeError(f"{type(child).__name__} overrides its layer's forward: not linearised")
        elif isinstance(child, (_BatchNorm, nn.LayerNorm, *ACTIVATIONS)):
            setattr(model, name, nn.Identity())
        elif isinstance(child, GATES):
            gates += 1 + linearise(child, local)
            setattr(model, name, Gate(child, local))
        else:
            gates += linearise(child, local)
    return gates


def last_map(model: nn.Module, x: torch.Tensor, axis: int, at: nn.Module | None = None) -> torch.Tensor:
    """The last feature map ``model`` computes from ``x``: the output of the last module call (of ``at``'s alone
    where given) that is a (N, C, H, W) map with two or more positions along ``axis`` (0 rows, 1 columns) and does
    not resample to a fixed size. Max pooling (``nn.MaxPool2d`` and functional calls alike) runs as window sums
    meanwhile."""
    found: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        if (isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[2 + axis] >= 2
                and not isinstance(module, RESAMPLING)):
            found[:] = [output.clone()]  # a copy: later in-place ops must not change what it depends on

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(F, "max_pool2d", window_sum))
        for module in model.modules() if at is None else [at]:
            stack.callback(module.register_forward_hook(record).remove)
        model(x)
    if not found:
        raise AssertionError(f"{type(model).__name__} computes no map with two positions along axis {axis}")
    return found[0]


def supports(model: nn.Module, image: tuple[int, int, int], units: list[tuple[int, int]],
             axis: int, at: nn.Module | None = None) -> tuple[tuple[int, ...], list[list[int]]]:
    """The shape of the last map (see ``last_map``) and, for each of its units (row, column), the input indices
    along ``axis`` that the unit's gradient reaches; unit i is computed in sample i of one batch."""
    x = torch.ones(len(units), *image, dtype=torch.float64, requires_grad=True)
    y = last_map(model, x, axis, at)
    seed = torch.zeros_like(y)
    for sample, (row, column) in enumerate(units):
        seed[sample, :, row, column] = 1
    (grad,) = torch.autograd.grad(y, x, seed)
    reached = [grad[sample].sum(dim=(0, 2 - axis)).nonzero().flatten().tolist() for sample in range(len(units))]
    return tuple(y.shape[1:]), reached


def field(reached: list[list[int]], start: int, end: int) -> tuple[int, int, int]:
    """(size, stride, padding) from the indices reached by positions ``start``, ``start + 1`` and ``end`` along one
    axis (first of each of the two, last of the third), valid when those ends are not clipped by the image."""
    stride = reached[1][0] - reached[0][0]
    padding = start * stride - reached[0][0]
    return reached[2][-1] + 1 + padding - end * stride, stride, padding
