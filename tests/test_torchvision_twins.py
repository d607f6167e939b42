"""Each library network against its torchvision twin: params, published MACs, outputs, and node by node."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import archspec
from tests.conftest import SPECS, TORCHVISION_TWINS, Twin

pytestmark = pytest.mark.parametrize("twin", TORCHVISION_TWINS, ids=lambda t: t.spec)


@pytest.fixture(scope="module")
def compiled():
    """Spec, compiled model and torchvision model per network, built once."""
    cache: dict[str, tuple] = {}

    def get(twin: Twin):
        if twin.spec not in cache:
            torch.manual_seed(0)
            spec = archspec.load(SPECS / f"{twin.spec}.yaml")
            reference = getattr(torchvision.models, twin.builder)(weights=None, **twin.kwargs).eval()
            cache[twin.spec] = (spec, spec.build().eval(), reference)
        return cache[twin.spec]

    return get


def test_params_equal_torchvision(twin: Twin, compiled) -> None:
    spec, _, reference = compiled(twin)
    report = spec.analyze()
    assert report.params == sum(p.numel() for p in reference.parameters())
    assert report.params == getattr(torchvision.models, twin.weights).DEFAULT.meta["num_params"]
    assert report.buffers == sum(b.numel() for b in reference.buffers())


def test_macs_equal_published_figure(twin: Twin) -> None:
    report = archspec.load(SPECS / f"{twin.spec}.yaml").analyze()
    published = getattr(torchvision.models, twin.weights).DEFAULT.meta["_ops"]  # GMACs, torchvision's convention
    assert round(report.macs / 1e9, 3) == published
    assert report.flops == 2 * report.macs


def _randomise(model: torch.nn.Module) -> None:
    """Give every tensor distinct values, so that a tensor loaded into the wrong layer changes the output."""
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(0.5 + noise if name.endswith("running_var") else tensor + 0.1 * (noise - 0.5))


def test_outputs_equal_after_transfer(twin: Twin, compiled) -> None:
    spec, model, reference = compiled(twin)
    _randomise(reference)
    mapping = archspec.transfer_weights(reference.state_dict(), model)
    assert len(mapping) == len(reference.state_dict())
    torch.manual_seed(1)
    x = torch.randn(2, *spec.analyze().input_shape)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max().item() <= 1e-4


def test_every_node_matches_a_real_forward_pass(twin: Twin, compiled) -> None:
    spec, model, _ = compiled(twin)
    graph = spec.graph
    x = torch.randn(1, *graph[graph.input].shape)
    ShapeProp(model).propagate(x)
    fx_nodes = [n for n in model.graph.nodes if n.op != "output"]
    assert len(fx_nodes) == len(graph)
    for node, fx_node in zip(graph, fx_nodes, strict=True):
        assert tuple(fx_node.meta["tensor_meta"].shape[1:]) == node.shape, node.name
        if fx_node.op == "call_module":
            module = model.get_submodule(node.name)
            assert sum(p.numel() for p in module.parameters()) == node.cost.params, node.name
            assert sum(b.numel() for b in module.buffers()) == node.cost.buffers, node.name
        else:
            assert node.cost.params == 0, node.name


def test_every_node_macs_match_flop_counter(twin: Twin, compiled) -> None:
    """FlopCounterMode counts conv, matmul and attention kernels, but not MHA's fused eval path nor the CPU's
    fused attention kernel: the count runs in training mode with the math attention kernel (dropout and
    stochastic depth do not change the arithmetic)."""
    spec, model, _ = compiled(twin)
    graph = spec.graph
    counter = FlopCounterMode(display=False)
    model.train()
    try:
        with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            model(torch.randn(2, *graph[graph.input].shape))
    finally:
        model.eval()
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    for node in graph:
        seen = sum(counts.get(f"{prefix}.{node.name}", {}).values()) // 4  # batch of 2, FLOPs = 2 x MACs
        assert seen == node.cost.macs, node.name
    assert sum(counts["Global"].values()) // 4 == spec.analyze().macs
