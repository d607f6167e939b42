"""The library under test: every spec file, and how to build its independent reference."""

from __future__ import annotations

from pathlib import Path

import torch

import archspec
from archspec.cli import library_files

SPECS = Path(__file__).resolve().parent.parent / "specs"
LIBRARY = [path.stem for path in library_files(SPECS)]


def load(name: str) -> archspec.Spec:
    """Load a library spec by name."""
    return archspec.load(SPECS / f"{name}.yaml")


def reference_model(spec: archspec.Spec) -> torch.nn.Module:
    """The torchvision or timm twin of a spec, randomly initialised, in eval mode."""
    reference = spec.network.reference
    assert reference is not None
    kwargs = dict(reference.kwargs)
    if reference.torchvision:
        import torchvision

        return torchvision.models.get_model(reference.torchvision, weights=None, **kwargs).eval()
    import timm

    return timm.create_model(reference.timm, pretrained=False, **kwargs).eval()


def published_macs(spec: archspec.Spec) -> tuple[float, int] | None:
    """torchvision's published GMACs (its weights' ``_ops``) and the resolution they were measured at
    (the weights' evaluation crop), when torchvision has weights for the twin."""
    reference = spec.network.reference
    if reference is None or not reference.torchvision:
        return None
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(reference.torchvision)
    except ValueError:
        return None
    chosen = weights[reference.weights or "DEFAULT"]
    ops = chosen.meta.get("_ops")
    if ops is None:
        return None
    crop = getattr(chosen.transforms(), "crop_size", None)
    return ops, int(crop[0]) if crop else spec.analyze().input_shape[1]


def with_reference(names: list[str]) -> list[str]:
    """The names whose spec declares an independent implementation."""
    return [n for n in names if load(n).network.reference is not None]
