"""An example use of every primitive, and the table of what its own rules give for it (shape, counts, receptive
field, layout, PyTorch lowering), for the spec reference."""

from __future__ import annotations

from typing import Any

import yaml

from archspec.ops.base import Layout, Op, Shape, Window, WindowRule

# op name -> (the item as written in a spec, its input shapes)
EXAMPLES: dict[str, tuple[str, list[Shape]]] = {
    "conv": ("{op: conv, out: 64, kernel: 7, stride: 2, bias: false}", [(3, 224, 224)]),
    "linear": ("{op: linear, out: 1000}", [(2048,)]),
    "batchnorm": ("{op: batchnorm}", [(64, 56, 56)]),
    "layernorm": ("{op: layernorm, axis: channels, eps: 1.0e-6}", [(96, 56, 56)]),
    "lrn": ("{op: lrn, size: 5, alpha: 1.0e-4, beta: 0.75, k: 2}", [(96, 55, 55)]),
    "relu": ("{op: relu}", [(64, 112, 112)]),
    "relu6": ("{op: relu6}", [(32, 112, 112)]),
    "silu": ("{op: silu}", [(32, 112, 112)]),
    "swish": ("{op: swish}", [(32, 112, 112)]),
    "hardswish": ("{op: hardswish}", [(16, 112, 112)]),
    "hardsigmoid": ("{op: hardsigmoid}", [(16, 1, 1)]),
    "gelu": ("{op: gelu}", [(197, 3072)]),
    "sigmoid": ("{op: sigmoid}", [(16, 1, 1)]),
    "tanh": ("{op: tanh}", [(120,)]),
    "identity": ("{op: identity}", [(64, 56, 56)]),
    "activation": ("{op: activation, fn: leaky_relu}", [(64, 56, 56)]),
    "leaky_relu": ("{op: leaky_relu}", [(64, 56, 56)]),
    "maxpool": ("{op: maxpool, kernel: 3, stride: 2, padding: 1}", [(64, 112, 112)]),
    "avgpool": ("{op: avgpool, kernel: 2, stride: 2}", [(128, 56, 56)]),
    "adaptive_avgpool": ("{op: adaptive_avgpool, size: 7}", [(512, 14, 14)]),
    "global_avgpool": ("{op: global_avgpool}", [(2048, 7, 7)]),
    "mean": ("{op: mean}", [(1024, 7, 7)]),
    "self_attention": ("{op: self_attention, heads: 12}", [(197, 768)]),
    "squeeze_excite": ("{op: squeeze_excite, squeeze: 8}", [(32, 112, 112)]),
    "patch_embed": ("{op: patch_embed, dim: 768, patch: 16}", [(3, 224, 224)]),
    "class_token": ("{op: class_token}", [(196, 768)]),
    "pos_embedding": ("{op: pos_embedding}", [(197, 768)]),
    "select_token": ("{op: select_token}", [(197, 768)]),
    "add": ("{op: add}", [(256, 56, 56), (256, 56, 56)]),
    "multiply": ("{op: multiply}", [(32, 112, 112), (32, 1, 1)]),
    "concat": ("{op: concat}", [(64, 28, 28), (128, 28, 28)]),
    "flatten": ("{op: flatten}", [(2048, 1, 1)]),
    "reshape": ("{op: reshape, shape: [256, 6, 6]}", [(9216,)]),
    "channel_shuffle": ("{op: channel_shuffle, groups: 2}", [(116, 28, 28)]),
    "scale": ("{op: scale, factor: 0.17}", [(320, 35, 35)]),
    "layer_scale": ("{op: layer_scale, init: 1.0e-6}", [(96, 56, 56)]),
    "slice": ("{op: slice, start: 0, stop: 58}", [(116, 28, 28)]),
    "dropout": ("{op: dropout, p: 0.5}", [(4096,)]),
    "stochastic_depth": ("{op: stochastic_depth, p: 0.1}", [(96, 56, 56)]),
    "window_attention": ("{op: window_attention, heads: 3, window: 7, shift: 3}", [(96, 56, 56)]),
    "partition_attention": ("{op: partition_attention, heads: 2, window: 7, partition: grid, scale: channels}",
                            [(64, 56, 56)]),
    "patch_merge": ("{op: patch_merge}", [(96, 56, 56)]),
}


def _shape(shape: Shape) -> str:
    return "x".join(map(str, shape))


def _window(rule: WindowRule) -> str:
    if rule.kind is Window.PARTITION:
        kernel, offset = (f"{a}x{b}" if a != b else str(a) for a, b in (rule.kernel, rule.offset))
        return f"windows of {kernel} from offset {offset}: each position sees its window"
    if rule.kind is not Window.SLIDING:
        return rule.kind.value
    kernel, stride, padding = (f"{a}x{b}" if a != b else str(a) for a, b in (rule.kernel, rule.stride, rule.padding))
    dilation = f", dilation {rule.dilation[0]}" if rule.dilation != (1, 1) else ""
    return f"kernel {kernel}, stride {stride}, padding {padding}{dilation}"


def _lowering(op: Op[Any], attrs: Any, inputs: list[Shape], output: Shape) -> str:
    module = op.module(attrs, inputs, output)
    if module is not None:
        text = " ".join(repr(module).split())
        return f"`{text if len(text) <= 120 else type(module).__name__}`"
    function, _ = op.function(attrs, inputs)
    name = f"{getattr(function, '__module__', '') or ''}.{getattr(function, '__name__', repr(function))}"
    held = op.parameter(attrs, inputs)
    extra = f", with a {_shape(tuple(held.shape))} parameter" if held is not None else ""
    return f"`{name.removeprefix('_operator.').removeprefix('torch._C._nn.')}` in the enclosing forward{extra}"


def example_lines(op: Op[Any]) -> list[str]:
    """The op's example item and the table of what its rules give for it."""
    if op.name not in EXAMPLES:
        raise KeyError(f"the primitive {op.name} has no example: add one to archspec/docs/op_examples.py")
    text, inputs = EXAMPLES[op.name]
    written = dict(yaml.safe_load(text))
    written.pop("op")
    attrs = op.Attrs.model_validate(written)
    output = op.infer(attrs, inputs)
    cost = op.cost(attrs, inputs, output)
    layout = op.layout(attrs, inputs)
    rows = [
        ("input", ", ".join(_shape(s) for s in inputs)), ("output", _shape(output)),
        ("params", f"{cost.params:,}"), ("buffers", f"{cost.buffers:,}"), ("MACs", f"{cost.macs:,}"),
        ("other ops", f"{cost.other_ops:,}"),
        ("receptive field", _window(op.window(attrs, inputs)) + (" (plus global context)" if op.global_context
                                                                 else "")),
        ("layout", {Layout.FIRST: "channels-first", Layout.LAST: "channels-last (the compiler permutes into it)",
                    Layout.EITHER: "either (computed in its input's layout)"}[layout] if len(inputs[0]) == 3
         else "tokens or vectors"),
        ("PyTorch", _lowering(op, attrs, inputs, output)),
    ]
    lines = ["Example, with what the op's own rules give for it:", "", "```yaml", f"- {text}", "```", "",
             "| rule | value |", "| --- | --- |"]
    return [*lines, *(f"| {key} | {value} |" for key, value in rows), ""]

