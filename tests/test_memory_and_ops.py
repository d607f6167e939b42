"""Activation memory and other ops, pinned by measuring real modules rather than by archspec's own rules.

- Activations (per sample): the compiled module runs under a torch.fx Interpreter, which drops each value after
  its last user (torch's own liveness rule). Every node output, the input included, is copied into a buffer of its
  own, as memory.py counts it (the compiled module runs some activations and adds in place and returns views; the
  pass does not model that sharing), and a finalizer tracks that buffer: the total is the elements all nodes
  produced, and the peak the most elements alive at once, as CPython actually frees them.
- Other ops (per sample): the torchvision twin runs with hooks on its modules, and a dispatch mode sees the
  tensor functions its forward calls outside them; each is counted by the README's convention: one op per output
  element for norms, activations and element-wise merges (position embeddings included), ``k*k`` per output for
  window pooling, one per input element for global pooling, ``heads*L*L`` for the attention softmax, none for
  concatenation, views, convolutions and linear layers (their work is MACs).
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchvision
from torch import fx, nn
from torch.utils._python_dispatch import TorchDispatchMode

from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family
from tests.library import load, reference_model, smallest

BATCH = 2  # a batch of two: per-sample figures are whole-batch elements divided by it


def per_sample(tensor: torch.Tensor) -> int:
    """Elements of one sample of a batched tensor."""
    assert tensor.numel() % BATCH == 0, f"shape {list(tensor.shape)} does not split into {BATCH} samples"
    return tensor.numel() // BATCH


class LivenessReplay(fx.Interpreter):
    """Runs a GraphModule node by node, summing the elements of every node output and tracking how many are alive."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.produced: list[tuple[str, int]] = []
        self.live = self.peak = 0
        self.peak_at = ""

    def run_node(self, node: fx.Node) -> Any:
        """Run one node and keep a private copy of its output, counted while the interpreter holds it."""
        value = super().run_node(node)
        if node.op in ("output", "get_attr") or isinstance(value, tuple):
            return value  # not a node's output: a parameter read, or attention's (output, weights) pair
        assert isinstance(value, torch.Tensor), f"node {node.name} returned a {type(value).__name__}"
        own = value.clone()
        size = per_sample(own)
        self.produced.append((node.name, size))
        self.live += size
        if self.live > self.peak:
            self.peak, self.peak_at = self.live, node.name
        weakref.finalize(own, self._free, size)
        return own

    def _free(self, size: int) -> None:
        self.live -= size


class _Scopes(fx.Tracer):
    """Traces into the compiled network's scopes and nowhere else (every other module is one statement)."""

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return not isinstance(m, fx.GraphModule)


def flat(model: fx.GraphModule) -> fx.GraphModule:
    """The compiled network as one straight-line graph, as torch.compile and torch.export run it: the schedule the
    memory figures describe. (Run eagerly, a scope's caller also holds the scope's input while it runs, as a
    hand-written network's does.)"""
    return fx.GraphModule(model, _Scopes().trace(model))


MEMORY_NETWORKS: dict[str, dict[str, Any]] = {
    "resnet18": {},  # residual adds, run in place by the compiled module
    "densenet121": {},  # long-lived inputs of every concatenation
    "efficientnet_b0": {},  # squeeze-excitation, stochastic depth
    "googlenet": {"aux_logits": True},  # branches, and side outputs held to the end
    "shufflenet_v2_x1_0": {},  # channel split (slices) and shuffle (views)
    "vit_b_16": {},  # token sequences
}


@pytest.mark.parametrize("name", list(MEMORY_NETWORKS))
def test_activation_memory_equals_a_liveness_replay_of_the_compiled_module(name: str) -> None:
    spec = smallest(load(name).with_overrides(variables=MEMORY_NETWORKS[name]))
    report = spec.analyze()
    replay = LivenessReplay(flat(spec.build().eval()))
    with torch.no_grad():
        replay.run(torch.randn(BATCH, *report.input_shape))
    where = f"{name} at {report.input_shape[1]} px"
    total = sum(size for _, size in replay.produced)
    assert len(replay.produced) == len(report.graph), f"{where}: {len(replay.produced)} module values for " \
                                                      f"{len(report.graph)} nodes"
    wrong = [f"{node.name}: {math.prod(node.shape)} by archspec's shape, {size} produced"
             for node, (_, size) in zip(report.graph, replay.produced, strict=True) if math.prod(node.shape) != size]
    assert report.activations == total, f"{where}: activations per sample: archspec {report.activations}, " \
                                        f"the module produced {total}; first nodes that differ: {wrong[:3]}"
    assert replay.peak < total, f"{where}: the replay freed nothing (peak {replay.peak} = total {total})"
    assert report.peak_activations == replay.peak, \
        f"{where}: inference peak per sample: archspec {report.peak_activations}, the module held at most " \
        f"{replay.peak} (after {replay.peak_at})"


Rule = Callable[[nn.Module, tuple[Any, ...], Any], tuple[str, int]]


def _output(kind: str) -> Rule:
    """One op per output element."""
    return lambda module, inputs, output: (kind, per_sample(output))


def _window_pool(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> tuple[str, int]:
    """``k*k`` ops per output element."""
    kernel = module.kernel_size
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return "pool", kh * kw * per_sample(output)


def _global_pool(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> tuple[str, int]:
    """One op per input element."""
    assert tuple(output.shape[2:]) == (1, 1), f"{module} is not a global pool"
    return "pool", per_sample(inputs[0])


def _softmax(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> tuple[str, int]:
    """One op per attention weight: ``heads * L * L``."""
    assert isinstance(module, nn.MultiheadAttention) and module.batch_first
    return "attention softmax", module.num_heads * inputs[0].shape[1] ** 2


# leaf modules: counted whole from their type; what they call inside is theirs (None: no other ops)
MODULE_RULES: dict[type[nn.Module], Rule | None] = {
    nn.BatchNorm2d: _output("norm"),
    nn.LayerNorm: _output("norm"),
    **{kind: _output("activation") for kind in (nn.ReLU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Sigmoid, nn.Hardsigmoid)},
    nn.MaxPool2d: _window_pool,
    nn.AvgPool2d: _window_pool,
    nn.AdaptiveAvgPool2d: _global_pool,
    nn.MultiheadAttention: _softmax,
    nn.Conv2d: None,
    nn.Linear: None,
    nn.Dropout: None,
    torchvision.ops.StochasticDepth: None,
}


def _input_elements(kind: str) -> Callable[[tuple[Any, ...], torch.Tensor], tuple[str, int]]:
    """One op per element of the first argument."""
    return lambda args, output: (kind, per_sample(args[0]))


def _output_elements(kind: str) -> Callable[[tuple[Any, ...], torch.Tensor], tuple[str, int]]:
    """One op per output element."""
    return lambda args, output: (kind, per_sample(output))


# tensor functions called by a forward outside the leaf modules (residual adds, SE's gate product, DenseNet's
# functional ReLU and pooling, ViT's position embedding, concatenations and reshapes)
FUNCTION_RULES: dict[str, Callable[[tuple[Any, ...], torch.Tensor], tuple[str, int]] | None] = {
    "aten.add.Tensor": _output_elements("elementwise"),
    "aten.add_.Tensor": _output_elements("elementwise"),
    "aten.mul.Tensor": _output_elements("elementwise"),
    "aten.relu_.default": _output_elements("activation"),
    "aten.mean.dim": _input_elements("pool"),  # F.adaptive_avg_pool2d(x, 1)
    "aten.cat.default": None,
    "aten.view.default": None,
    "aten.permute.default": None,
    "aten.expand.default": None,
    "aten.select.int": None,
}


class OtherOpsCounter(TorchDispatchMode):
    """Counts a torchvision model's other ops per sample, by kind; squeeze-excitation's share is its own kind."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.leaf_depth = 0
        self.in_excitation = 0
        for module in model.modules():
            if type(module) in MODULE_RULES:
                module.register_forward_pre_hook(self._enter_leaf)
                module.register_forward_hook(self._leave_leaf)
            elif isinstance(module, torchvision.ops.SqueezeExcitation):
                module.register_forward_pre_hook(self._enter_excitation)
                module.register_forward_hook(self._leave_excitation)

    def _add(self, kind: str, count: int) -> None:
        self.counts["squeeze_excite" if self.in_excitation else kind] += count

    def _enter_leaf(self, module: nn.Module, inputs: tuple[Any, ...]) -> None:
        self.leaf_depth += 1

    def _leave_leaf(self, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        self.leaf_depth -= 1
        rule = MODULE_RULES[type(module)]
        if rule is not None and self.leaf_depth == 0:
            self._add(*rule(module, inputs, output))

    def _enter_excitation(self, module: nn.Module, inputs: tuple[Any, ...]) -> None:
        self.in_excitation += 1

    def _leave_excitation(self, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        self.in_excitation -= 1

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        """Run ``func``; count it by FUNCTION_RULES when no leaf module called it."""
        output = func(*args, **(kwargs or {}))
        if self.leaf_depth == 0:
            name = str(func)
            assert name in FUNCTION_RULES, f"no counting convention for {name} called outside the leaf modules"
            rule = FUNCTION_RULES[name]
            if rule is not None:
                self._add(*rule(args, output))
        return output


def _kind(node: Node) -> str:
    """The kind a node's other ops are compared under (the op's name where no family applies)."""
    assert node.op is not None
    if node.kind in ("batchnorm", "layernorm"):
        return "norm"
    if node.op.family is Family.ACTIVATION:
        return "activation"
    if node.op.family is Family.POOL:
        return "pool"
    if node.kind in ("add", "multiply", "pos_embedding"):
        return "elementwise"
    if node.kind == "self_attention":
        return "attention softmax"
    return node.kind


def archspec_other_ops(graph: Graph) -> Counter[str]:
    """archspec's other ops per node, summed by kind."""
    counts: Counter[str] = Counter()
    for node in graph:
        if not node.is_input:
            assert node.cost is not None
            counts[_kind(node)] += node.cost.other_ops
    return counts


OPS_NETWORKS = [
    "resnet18",  # batch norm, ReLU, max pool, residual add, global average pool
    "densenet121",  # concatenation, 2x2 average pools, functional ReLU and global pool
    "efficientnet_b0",  # SiLU, squeeze-excitation with a sigmoid gate
    "mobilenet_v3_small",  # hardswish, squeeze-excitation with ReLU and a hard-sigmoid gate
    "googlenet",  # branches concatenated, ceil-mode max pools
    "vit_b_16",  # layer norm, GELU, attention softmax, position embedding, class token
]


@pytest.mark.parametrize("name", OPS_NETWORKS)
def test_other_ops_equal_the_torchvision_twins_counted_by_convention(name: str) -> None:
    spec = smallest(load(name))
    report = spec.analyze()
    reference = reference_model(spec)
    counter, images = OtherOpsCounter(reference), torch.randn(BATCH, *report.input_shape)
    with torch.no_grad(), counter:
        reference(images)
    ours, theirs = archspec_other_ops(report.graph), counter.counts
    wrong = [f"{kind}: archspec {ours[kind]}, reference {theirs[kind]}"
             for kind in sorted(ours.keys() | theirs.keys()) if ours[kind] != theirs[kind]]
    where = f"{name} at {report.input_shape[1]} px"
    assert not wrong, f"{where}, other ops per sample by kind: " + "; ".join(wrong)
    assert report.other_ops == sum(theirs.values()), \
        f"{where}: other_ops per sample: archspec's report {report.other_ops}, reference {sum(theirs.values())}"
