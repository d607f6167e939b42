"""Receptive fields against an independent computation: the gradient footprint on a linearised torchvision net."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

import archspec
from tests.library import SPECS


def _linearise(model: nn.Module) -> nn.Module:
    """Replace non-linear parts by linear ones with the same window, and make all weights positive."""
    for name, child in model.named_children():
        if isinstance(child, nn.ReLU | nn.BatchNorm2d):
            setattr(model, name, nn.Identity())
        elif isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
        else:
            _linearise(child)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 1.0 / module.weight[0].numel())
    return model


def test_resnet50_receptive_fields_match_gradient_footprints() -> None:
    """For each stage output: the input rows that influence one position span exactly the analysed field."""
    report = archspec.load(SPECS / "resnet50.yaml").analyze()
    net = _linearise(torchvision.models.resnet50(weights=None)).double()
    x = torch.zeros(1, 3, 448, 448, dtype=torch.float64, requires_grad=True)
    y = net.maxpool(net.conv1(x))
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        y = getattr(net, stage)(y)
        rf = next(s for s in report.stages if s.name == stage).receptive_field
        size, stride, padding = rf["size"][0], rf["stride"][0], rf["padding"][0]
        position = math.ceil(padding / stride)  # first position whose field lies inside the image
        (grad,) = torch.autograd.grad(y[0, :, position, position].sum(), x, retain_graph=True)
        rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
        cols = grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
        assert int(rows[-1] - rows[0] + 1) == size == int(cols[-1] - cols[0] + 1), stage
        assert int(rows[0]) == position * stride - padding, stage
    assert report.receptive_field["size"] == [427, 427]


def _footprint_rows(features: nn.Module, size: int, position: int) -> tuple[int, int]:
    """(first row, number of rows) of the input that influence feature position (position, position)."""
    x = torch.zeros(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    y = features(x)
    (grad,) = torch.autograd.grad(y[0, :, position, position].sum(), x)
    rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    return int(rows[0]), int(rows[-1] - rows[0] + 1)


def hand_field(layers: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    """(size, stride, padding) of a plain chain of (kernel, stride, padding) windows, by the textbook recurrence."""
    size, stride, padding = 1, 1, 0
    for kernel, step, pad in layers:
        size, padding, stride = size + (kernel - 1) * stride, padding + pad * stride, stride * step
    return size, stride, padding


@pytest.mark.parametrize(("name", "layers"), [
    # AlexNet (torchvision): conv 11/4 p2, pool 3/2, conv 5 p2, pool 3/2, conv 3 p1 x3, pool 3/2
    ("alexnet", [(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)]),
    # VGG-16: five stages of 3x3 convs (2, 2, 3, 3, 3) each followed by a 2x2/2 pool
    ("vgg16", [layer for convs in (2, 2, 3, 3, 3) for layer in [(3, 1, 1)] * convs + [(2, 2, 0)]]),
])
def test_plain_chains_match_the_textbook_recurrence_and_the_gradient_footprint(name: str, layers: list) -> None:
    report = archspec.load(SPECS / f"{name}.yaml").analyze()
    rf = report.receptive_field
    size, stride, padding = hand_field(layers)
    assert (rf["size"][0], rf["stride"][0], rf["padding"][0]) == (size, stride, padding)
    features = _linearise(torchvision.models.get_model(name, weights=None).features).double()
    position = math.ceil(padding / stride) + 1
    first, rows = _footprint_rows(features, position * stride - padding + size + stride, position)
    assert (first, rows) == (position * stride - padding, size)
