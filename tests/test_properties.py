"""Property tests: generated specs analyse and compile consistently, and the analysis agrees with the module.

Budget: the ``ci`` profile (200 examples each) runs in the test suite; ``make properties`` runs the ``large``
profile (ARCHSPEC_HYPOTHESIS_PROFILE=large).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import yaml
from hypothesis import HealthCheck, given, settings
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.ir.graph import Node
from tests.library import check_module_flops, node_shapes
from tests.strategies import specs

_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=_HEALTH)
settings.register_profile("large", max_examples=5000, deadline=None, suppress_health_check=_HEALTH)
settings.load_profile(os.environ.get("ARCHSPEC_HYPOTHESIS_PROFILE", "ci"))


def write(path: Path, data: dict[str, Any]) -> Path:
    """Write a spec as YAML."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load_or_none(path: Path) -> archspec.Spec | None:
    """The spec with its graph built, or None when it is rejected with a located error (a stack may shrink the
    map below a kernel or break a depthwise row's channel rule: those are valid rejections)."""
    try:
        spec = archspec.load(path)
        _ = spec.graph
        return spec
    except archspec.ArchspecError as exc:
        lines = path.read_text().splitlines()
        location = exc.location
        assert location is not None and location.file == str(path), str(exc)
        assert 1 <= location.line <= len(lines), str(exc)
        assert 1 <= location.column <= len(lines[location.line - 1]) + 1, str(exc)
        return None


@given(data=specs())
def test_analysis_equals_the_compiled_module(tmp_path_factory, data: dict[str, Any]) -> None:
    spec = load_or_none(write(tmp_path_factory.mktemp("s") / "g.yaml", data))
    if spec is None:
        return
    graph, report = spec.graph, spec.analyze()
    model = spec.build().train()  # training mode: FlopCounterMode sees every kernel
    x = torch.randn(2, *report.input_shape)
    with torch.no_grad():
        shapes = node_shapes(model, x)
    assert shapes == {node.name: node.shape for node in graph if not node.is_input}
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.buffers == sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(x)
    check_module_flops(graph, model, counter.get_flop_counts(), flops_per_mac=4)


def _written_stride(node: Node) -> tuple[int, int]:
    """The stride a node's attributes say it steps by (a pool's defaults to its kernel, a patch embedding's is its
    patch), read from the spec's values rather than from the op's window rule."""
    attrs = node.attrs
    step = getattr(attrs, "stride", None) or getattr(attrs, "kernel", None) or getattr(attrs, "patch", None) or 1
    return (step, step) if isinstance(step, int) else tuple(step)  # type: ignore[return-value]


@given(data=specs())
def test_receptive_field_grows_and_stride_is_the_product_of_strides(tmp_path_factory, data: dict[str, Any]) -> None:
    spec = load_or_none(write(tmp_path_factory.mktemp("s") / "g.yaml", data))
    if spec is None:
        return
    graph = spec.graph
    product: dict[str, tuple[int, int]] = {graph.input: (1, 1)}
    for node in graph:
        if node.op is None:
            continue
        incoming = {product[i] for i in node.inputs}
        base = (max(s[0] for s in incoming), max(s[1] for s in incoming))
        step = _written_stride(node)
        product[node.name] = (base[0] * step[0], base[1] * step[1])
        if node.rf.is_global:
            continue
        assert node.rf.stride == product[node.name], node.name
        for source in node.inputs:
            before = graph[source].rf
            assert all(a >= b for a, b in zip(node.rf.size, before.size, strict=True)), node.name
    spatial = [n for n in graph if len(n.shape) == 3]
    assert all(math.prod(n.rf.size) >= 1 for n in spatial)


@given(data=specs())
def test_yaml_dump_then_load_is_the_identity(tmp_path_factory, data: dict[str, Any]) -> None:
    from archspec.spec.dump import dump_spec

    directory = tmp_path_factory.mktemp("s")
    first = archspec.load(write(directory / "a.yaml", data))
    again = directory / "b.yaml"
    again.write_text(dump_spec(first.network, first.source.data))
    assert archspec.load(again).network == first.network
