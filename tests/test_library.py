"""Every library spec against independent references: its torchvision/timm twin, the twin's published
figures, the paper's own figures, and node by node against a real forward pass and FlopCounterMode.

Figures that depend on the resolution (params of a ViT, published MACs) are checked at the spec's own and at
the weights' crop size. Forward, training and FlopCounterMode checks compare behaviour that does not depend on
the resolution, so they run for every twin at the smallest resolution it accepts, with the twin and its
reference built once and shared by every check on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.backends.torch_module import to_module
from tests.library import (
    LIBRARY,
    by_network,
    check_module_flops,
    load,
    node_shapes,
    published_macs,
    reference_model,
    release_memory,
    smallest,
    takes_resolution,
    with_reference,
)

TWINS = with_reference(LIBRARY)


@dataclass
class Twin:
    """A library network at its smallest resolution, compiled, beside its reference loaded with the same
    (randomised) weights; ``pairs`` maps each of our parameter names to the reference's."""

    spec: archspec.Spec
    model: torch.nn.Module
    reference: torch.nn.Module
    pairs: dict[str, str]


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


@pytest.fixture(scope="module", params=by_network(TWINS))
def twin(request) -> Iterator[Twin]:
    """Module-scoped and parametrised: pytest runs every check of one twin before building the next, so one
    pair of networks is in memory at a time and each is built once."""
    spec = smallest(load(request.param))
    torch.manual_seed(0)
    # every tensor of ours is loaded from the reference below, so PyTorch's initialisation of ours would be
    # wasted (RegNetY-128GF: seconds); test_export and the module tests build with it
    model, reference = to_module(spec.graph, initialise=False).eval(), reference_model(spec)
    _randomise(reference)
    pairs = archspec.transfer_weights(model, reference.state_dict())
    assert len(pairs) == len(reference.state_dict()), "every reference tensor is loaded into one of ours"
    theirs = dict(reference.named_parameters())
    for name, parameter in model.named_parameters():  # one copy of the weights in memory (ViT-H: 2.5 GB)
        assert torch.equal(parameter, theirs[pairs[name]]), f"{name} was not loaded from {pairs[name]}"
        parameter.data = theirs[pairs[name]].data
    twin = Twin(spec, model, reference, pairs)
    yield twin
    del model, reference, theirs
    twin.model = twin.reference = None  # type: ignore[assignment]
    release_memory()


def _pick(output: torch.Tensor | tuple[torch.Tensor, ...], index: int) -> torch.Tensor:
    return output[index] if isinstance(output, tuple) else output


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


def test_accuracies_from_torchvision_weights_state_their_evaluation_crop() -> None:
    """A top-1 quoted from torchvision's weights was measured at their evaluation crop (their transforms'
    crop_size): the reported resolution, or the spec's own where it gives none (EfficientNet-B2's weights: 288 px,
    the paper's B2 260 px; RegNetY-128GF's SWAG end-to-end weights: 384 px)."""
    import re

    import torchvision

    checked = 0
    for name in LIBRARY:
        network = load(name).network
        quoted = re.fullmatch(r"torchvision (\w+_Weights)\.(\w+)", network.reported.source) \
            if network.reported and network.reported.top1 is not None else None
        if quoted is None:
            continue
        crop = getattr(torchvision.models, quoted[1])[quoted[2]].transforms().crop_size[0]
        measured = network.reported.resolution or network.input.resolution
        assert measured == crop, f"{name}: top-1 reported at {measured} px, its weights are evaluated at {crop}"
        checked += 1
    assert checked >= 79


@pytest.mark.parametrize("name", TWINS)
def test_published_macs_equal_the_analysis_at_the_crop_size(name: str) -> None:
    """torchvision's weights meta ``_ops`` (GMACs, three decimals) at each of its weights' evaluation crop."""
    spec = load(name)
    published = published_macs(spec)
    if not published:
        reference = spec.network.reference
        source = f"timm's {reference.timm}" if reference.timm else f"torchvision's {reference.torchvision}"
        pytest.skip(f"{name}: {source} publishes no MACs (its params and per-node MACs are checked)")
    own, measured = spec.analyze().input_shape[1], {}
    for weights, ops, resolution in published:
        if resolution not in measured:
            at_crop = spec if resolution == own else spec.with_overrides(image_size=resolution)
            measured[resolution] = round(at_crop.analyze().macs / 1e9, 3)
        assert (weights, measured[resolution]) == (weights, ops)


def test_params_and_buffers_equal_the_twin(twin: Twin) -> None:
    """At the spec's own resolution: a reference without a resolution argument has the same parameters at every
    size; one with it (a ViT's position embedding) is built again for the spec's resolution, on the meta device."""
    spec = load(twin.spec.name)
    reference = twin.reference
    if takes_resolution(spec):
        with torch.device("meta"):
            reference = reference_model(spec)
    for analysed, module in ((spec.analyze(), reference), (twin.spec.analyze(), twin.reference)):
        assert (analysed.params, analysed.buffers) == (sum(p.numel() for p in module.parameters()),
                                                       sum(b.numel() for b in module.buffers()))


def test_outputs_equal_the_twin_after_transfer(twin: Twin) -> None:
    x = torch.randn(1, *twin.spec.analyze().input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = _pick(twin.model(x), 0), _pick(twin.reference(x), twin.spec.network.reference.output)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= 1e-4


def test_training_outputs_equal_the_twin_under_one_seed(twin: Twin) -> None:
    """In training mode too: the same random draws in the same order (stochastic depth only where a skip adds
    the block back, as torchvision does), batch statistics, and the same gradients. Each of the reference's
    gradients is compared with ours as its backward pass accumulates it, then both are dropped, so that two full
    sets of gradients are never held at once (RegNetY-128GF's are 2.6 GB each)."""
    x = torch.randn(2, *twin.spec.analyze().input_shape, generator=torch.Generator().manual_seed(1))
    ours_grads: dict[str, torch.Tensor] = {}
    mismatches: list[str] = []

    def compare(parameter: torch.Tensor, name: str) -> None:
        try:
            assert_close(ours_grads.pop(name), parameter.grad, rtol=1e-3, atol=1e-5, msg=name)
        except AssertionError as exc:  # raised after the backward pass: not from inside autograd's engine
            mismatches.append(str(exc))
        parameter.grad = None

    outputs = []
    for network, pick in ((twin.model, 0), (twin.reference, twin.spec.network.reference.output)):
        statistics = [(buffer, buffer.clone()) for buffer in network.buffers()]
        hooks = [] if network is twin.model else \
            [p.register_post_accumulate_grad_hook(lambda p, key=name: compare(p, key))
             for name, p in network.named_parameters()]
        network.train()
        torch.manual_seed(3)
        out = _pick(network(x), pick)
        out.square().mean().backward()
        outputs.append(out.detach())
        if network is twin.model:  # ours by the reference's names, which the hooks look them up by
            ours_grads.update({twin.pairs[name]: p.grad for name, p in network.named_parameters()})
        for hook in hooks:
            hook.remove()
        network.eval()
        network.zero_grad(set_to_none=True)
        with torch.no_grad():  # undo the statistics this step updated, for the other checks on this twin
            for buffer, saved in statistics:
                buffer.copy_(saved)
    ours, theirs = outputs
    assert (ours - theirs).abs().max().item() <= 1e-4
    assert not mismatches, mismatches[0]
    assert not ours_grads, f"the reference computed no gradient for {sorted(ours_grads)[:3]}"


def assert_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float, msg: str) -> None:
    """``torch.testing.assert_close``'s check, |actual - expected| <= atol + rtol |expected| with the same shape
    and dtype, in three passes over the tensors instead of its dozen (the 644 M gradients of RegNetY-128GF took
    20 s); on failure, assert_close itself says where and by how much."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, msg
    bound = expected.abs().mul_(rtol).add_(atol)
    if not bool(((actual - expected).abs_() <= bound).all()):  # NaN fails here and in assert_close
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=msg)


def test_every_node_matches_a_forward_pass_and_flop_counter(twin: Twin) -> None:
    """Shapes and params node by node against a real forward pass; MACs against FlopCounterMode, per module
    (each node's own, and each scope's total, which holds the merges computed in its forward), which counts
    conv, matmul and attention kernels but not MHA's fused eval path nor the CPU's fused attention kernel: the
    count runs in training mode with the math attention kernel (dropout and stochastic depth leave the
    arithmetic unchanged)."""
    spec, model = twin.spec, twin.model
    graph = spec.graph
    x = torch.randn(1, *graph[graph.input].shape)
    with torch.no_grad():
        shapes = node_shapes(model, x)
    assert sorted(shapes) == sorted(node.name for node in graph if not node.is_input)
    modules, parameters = dict(model.named_modules()), dict(model.named_parameters())
    for node in graph:
        if node.is_input:
            continue
        assert shapes[node.name] == node.shape, node.name
        if node.name in modules:
            module = modules[node.name]
            assert sum(p.numel() for p in module.parameters()) == node.cost.params, node.name
            assert sum(b.numel() for b in module.buffers()) == node.cost.buffers, node.name
        elif node.name in parameters:  # held by its scope's module (a position embedding)
            assert parameters[node.name].numel() == node.cost.params, node.name
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
    check_module_flops(graph, model, counter.get_flop_counts(), flops_per_mac=2)


def _counts(model: torch.nn.Module, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """MACs (or FLOPs) and params as thop, ptflops, torchinfo and fvcore report them."""
    import contextlib
    import io

    import ptflops
    import thop
    import torchinfo
    from fvcore.nn import FlopCountAnalysis

    x = torch.randn(1, *shape)
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with quiet[0], quiet[1], torch.no_grad():
        thop_macs, thop_params = thop.profile(model, inputs=(x,), verbose=False)
        for module in model.modules():  # the counts thop leaves on every module
            for buffer in ("total_ops", "total_params"):
                module._buffers.pop(buffer, None)
        pt_macs, pt_params = ptflops.get_model_complexity_info(model, tuple(shape), as_strings=False,
                                                               print_per_layer_stat=False, verbose=False)
        summary = torchinfo.summary(model, input_data=x, verbose=0)
        # torchinfo keeps every summarised model's layers, by class name, whatever cache_forward_pass says: each
        # of our networks has a class of its own, so the suite would hold them all
        torchinfo.torchinfo._cached_forward_pass.clear()
        flops = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = flops.total()
    return {"thop": (int(thop_macs), int(thop_params)), "ptflops": (int(pt_macs), int(pt_params)),
            "torchinfo": (summary.total_mult_adds, summary.total_params), "fvcore": (int(total),)}


def test_hook_based_counters_see_the_same_network_as_in_torchvision(twin: Twin) -> None:
    """thop, ptflops, torchinfo and fvcore report for our module what they report for torchvision's (they see
    modules, so this checks that ours are the same classes in the same places); timm twins are not compared."""
    if not twin.spec.network.reference.torchvision:
        pytest.skip(f"{twin.spec.name}: a timm twin (timm's own classes are unknown to thop and ptflops)")
    shape = twin.spec.analyze().input_shape
    ours, theirs = _counts(twin.model, shape), _counts(twin.reference, shape)
    assert ours == theirs
