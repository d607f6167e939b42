"""The library under test: every spec file, how to build its independent reference, and the smallest input
resolution each network accepts (where checks whose claim does not depend on the resolution run)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import shutil
from functools import cache
from pathlib import Path

import pytest
import torch

import archspec
from archspec.ir.graph import Graph
from archspec.library import library_files
from archspec.ops.base import Layout
from archspec.reference import reference_model, takes_resolution

__all__ = ["LIBRARY", "SPECS", "check_module_flops", "load", "node_shapes", "reference_model", "takes_resolution"]

SPECS = Path(__file__).resolve().parent.parent / "archspec" / "specs"  # the checkout's specs/ links here
LIBRARY = [path.stem for path in library_files(SPECS)]
SIZES = (32, 56, 64, 96, 112, 128, 160, 224, 299)
# parameters: networks above this run one after the other, on one worker (the memory peak: the two above 600 M peak
# near 7 GB, and beside one of them the other worker must stay below 4 GB)
LARGE = 60_000_000


@cache
def load(name: str) -> archspec.Spec:
    """Load a library spec by name (specs are immutable: one load per session)."""
    return archspec.load(SPECS / f"{name}.yaml")


def release_memory() -> None:
    """Collect garbage and hand freed heap memory back to the system (glibc keeps it otherwise, so a worker would
    hold on to the peak of the largest network it ran)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def library_copy(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` as ``folder/name.yaml`` beside a copy of the block library, so that its imports resolve
    and the checkout stays untouched."""
    if not (folder / "blocks").exists():
        shutil.copytree(SPECS / "blocks", folder / "blocks")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def smallest(spec: archspec.Spec) -> archspec.Spec:
    """``spec`` at the smallest of SIZES it accepts (a ViT needs a multiple of its patch, Inception >= 75 px)."""
    for size in SIZES:
        candidate = spec.with_overrides(image_size=size)
        try:
            candidate.analyze()
        except archspec.GraphError:
            continue
        return candidate
    raise AssertionError(f"{spec.name} accepts none of the sizes {SIZES}")


def published_macs(spec: archspec.Spec) -> list[tuple[str, float, int]]:
    """torchvision's published GMACs (each of its weights' ``_ops``) and the resolution they were measured at
    (those weights' evaluation crop), by weights name: the reference's ``weights`` alone where it names them
    (ViT-H/14: the other entry is a 518 px model), else every entry of the twin, since one network may have
    weights at two crops (RegNetY-128GF's SWAG weights: 384 end to end, 224 linear)."""
    reference = spec.network.reference
    if reference is None or not reference.torchvision:
        return []
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(reference.torchvision)
    except ValueError:
        return []
    published = []
    for chosen in [weights[reference.weights]] if reference.weights else weights:
        ops = chosen.meta.get("_ops")
        if ops is not None:
            crop = getattr(chosen.transforms(), "crop_size", None)
            published.append((chosen.name, ops, int(crop[0]) if crop else spec.analyze().input_shape[1]))
    return published


def by_network(names: list[str]) -> list:
    """``names`` as pytest parameters that keep each network's tests on one pytest-xdist worker (its fixtures are
    built once); the networks above LARGE parameters, marked ``large``, share one group, so that two of them
    never run at once (the other worker runs the rest beside them: at most one large network in memory)."""
    params = []
    for name in names:
        large = load(name).analyze().params > LARGE
        params.append(pytest.param(name, marks=[pytest.mark.xdist_group("large" if large else name),
                                                *([pytest.mark.large] if large else [])]))
    return params


def with_reference(names: list[str]) -> list[str]:
    """The names whose spec declares an independent implementation."""
    return [n for n in names if load(n).network.reference is not None]


class _Recorder(torch.fx.Interpreter):
    """Runs a compiled network scope by scope, recording each IR node's output shape (from ``meta["node"]``)."""

    def __init__(self, module: torch.fx.GraphModule, shapes: dict[str, tuple[int, ...]]) -> None:
        super().__init__(module)
        self.shapes = shapes

    def run_node(self, n: torch.fx.Node) -> object:
        result = super().run_node(n)
        if "node" in n.meta:
            shape = tuple(result.shape[1:])
            if n.meta["layout"] is Layout.LAST and len(shape) == 3:  # (H, W, C) held for nn.Linear or LayerNorm
                shape = (shape[2], shape[0], shape[1])
            self.shapes[n.meta["node"]] = shape
        return result

    def call_module(self, target: str, args: tuple, kwargs: dict) -> object:  # type: ignore[override]
        module = self.fetch_attr(target)
        if isinstance(module, torch.fx.GraphModule):
            return _Recorder(module, self.shapes).run(*args)
        return super().call_module(target, args, kwargs)


def node_shapes(model: torch.fx.GraphModule, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Each IR node's output shape (batch left out) in a real forward pass of the compiled network."""
    shapes: dict[str, tuple[int, ...]] = {}
    _Recorder(model, shapes).run(x)
    return shapes


def check_module_flops(graph: Graph, model: torch.nn.Module, counts: dict[str, dict], flops_per_mac: int) -> None:
    """FlopCounterMode's count for every module equals its nodes' MACs: a node's own module, and each scope's
    (every node under it, merges computed in its forward included); ``flops_per_mac``: 2 x the batch."""
    prefix = type(model).__name__
    for name, _ in model.named_modules():
        under = [node for node in graph if not node.is_input and (not name or node.name == name
                                                                   or node.name.startswith(name + "."))]
        if not under:  # a part of one node's module (squeeze-excitation's fc1)
            continue
        key = f"{prefix}.{name}" if name else "Global"
        assert sum(counts.get(key, {}).values()) == flops_per_mac * sum(node.cost.macs for node in under), \
            name or prefix

