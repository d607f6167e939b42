"""Every library spec against independent references: its torchvision/timm twin, the twin's published
figures, the paper's own figures, and node by node against a real forward pass and FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import archspec
from tests.library import LIBRARY, load, published_macs, reference_model, with_reference

TWINS = with_reference(LIBRARY)


@pytest.fixture(scope="module")
def compiled():
    """(spec, compiled model, reference model) per network, built once per module."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            cache.clear()  # keep one large network in memory at a time
            torch.manual_seed(0)
            spec = load(name)
            cache[name] = (spec, spec.build().eval(), reference_model(spec))
        return cache[name]

    return get


def _randomise(model: torch.nn.Module) -> None:
    """Give every tensor distinct values, so that a tensor loaded into the wrong layer changes the output."""
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                if name.endswith("running_var"):
                    tensor.copy_(0.5 + noise)
                else:
                    tensor.add_(0.1 * (noise - 0.5))


@pytest.mark.parametrize("name", LIBRARY)
def test_spec_records_its_paper_and_source(name: str) -> None:
    network = load(name).network
    assert network.name == name
    assert network.paper is not None and network.paper.title
    assert network.reference is not None or (network.reported and network.reported.params), \
        "every spec is checked against a twin or the paper's figures"


@pytest.mark.parametrize("name", [n for n in LIBRARY if (load(n).network.reported or None)
                                  and load(n).network.reported.params])
def test_figures_match_the_paper(name: str) -> None:
    spec = load(name)
    reported = spec.network.reported
    report = spec.analyze()
    assert report.params == pytest.approx(reported.params, rel=reported.tolerance)
    if reported.macs:
        assert report.macs == pytest.approx(reported.macs, rel=reported.tolerance)


@pytest.mark.parametrize("name", TWINS)
def test_params_and_published_macs_equal_the_twin(name: str, compiled) -> None:
    spec, _, reference = compiled(name)
    report = spec.analyze()
    assert report.params == sum(p.numel() for p in reference.parameters())
    assert report.buffers == sum(b.numel() for b in reference.buffers())
    published = published_macs(spec)  # torchvision's weights meta "_ops": GMACs at the weights' crop size
    if published is not None:
        ops, resolution = published
        at_crop = spec if resolution == report.input_shape[1] else spec.with_overrides(image_size=resolution)
        assert round(at_crop.analyze().macs / 1e9, 3) == ops
    assert report.flops == 2 * report.macs


@pytest.mark.parametrize("name", TWINS)
def test_outputs_equal_the_twin_after_transfer(name: str, compiled) -> None:
    spec, model, reference = compiled(name)
    _randomise(reference)
    mapping = archspec.transfer_weights(reference.state_dict(), model)
    assert len(mapping) == len(reference.state_dict())
    x = torch.randn(1, *spec.analyze().input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(x), reference(x)
    if isinstance(ours, tuple):
        ours = ours[0]
    if isinstance(theirs, tuple):
        theirs = theirs[spec.network.reference.output]
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= 1e-4


# training mode draws random numbers (dropout, stochastic depth) and uses batch statistics; the largest twins are
# left out for CI time (their families are covered)
TRAINABLE_TWINS = [n for n in TWINS if load(n).analyze().macs <= 14e9]


@pytest.mark.parametrize("name", TRAINABLE_TWINS)
def test_training_outputs_equal_the_twin_under_one_seed(name: str, compiled) -> None:
    """In training mode too: the same random draws in the same order (stochastic depth only where a skip adds
    the block back, as torchvision does), batch statistics, and the same gradients."""
    spec, model, reference = compiled(name)
    _randomise(reference)
    pairs = archspec.transfer_weights(reference.state_dict(), model)
    x = torch.randn(2, *spec.analyze().input_shape, generator=torch.Generator().manual_seed(1))
    outputs = []
    for network, pick in ((model, 0), (reference, spec.network.reference.output)):
        network.train()
        torch.manual_seed(3)
        out = network(x)
        out = out[pick] if isinstance(out, tuple) else out
        out.square().mean().backward()
        outputs.append((out.detach(), {name: p.grad for name, p in network.named_parameters()}))
        network.eval()
    (ours, ours_grads), (theirs, their_grads) = outputs
    assert (ours - theirs).abs().max().item() <= 1e-4
    for name, grad in ours_grads.items():  # each parameter against the one transfer_weights loaded into it
        torch.testing.assert_close(grad, their_grads[pairs[name]], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", TWINS)
def test_every_node_matches_a_forward_pass_and_flop_counter(name: str, compiled) -> None:
    """Shapes and params node by node against a real forward pass; MACs against FlopCounterMode, which counts
    conv, matmul and attention kernels but not MHA's fused eval path nor the CPU's fused attention kernel: the
    count runs in training mode with the math attention kernel (dropout and stochastic depth leave the
    arithmetic unchanged)."""
    spec, model, _ = compiled(name)
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
    counter = FlopCounterMode(display=False)
    model.train()
    for module in model.modules():  # batch statistics of a single sample may be undefined; not counted anyway
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    try:
        with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            model(x)
    finally:
        model.eval()
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    for node in graph:
        assert sum(counts.get(f"{prefix}.{node.name}", {}).values()) == 2 * node.cost.macs, node.name
