"""Receptive fields against an independent computation: the gradient footprint on a linearised torchvision net."""

from __future__ import annotations

import math

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
