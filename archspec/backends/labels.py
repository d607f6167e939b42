"""The op vocabulary the views share: short op names, which ops are minor, labels and shape text."""

from __future__ import annotations

from archspec.analysis.blocks import TIMES
from archspec.ir.graph import Node
from archspec.ops.activation import ACTIVATION_ALIASES, ACTIVATIONS
from archspec.ops.base import Family

# ops folded into the line of the op before them in labels and summaries
MINOR_FAMILIES = (Family.NORM, Family.ACTIVATION, Family.REGULARIZATION)
MINOR_OPS = ("flatten",)
MERGE_OPS = ("add", "multiply", "concat")
SHORT_NAMES = {"batchnorm": "BN", "layernorm": "LN", "lrn": "LRN", "leaky_relu": "LeakyReLU",
               "stochastic_depth": "drop path", "self_attention": "MHSA", "squeeze_excite": "SE"}


def is_minor(node: Node) -> bool:
    """Norms, activations, regularisation and flattening: shown as suffixes, not as layers of their own."""
    return node.op is not None and (node.op.family in MINOR_FAMILIES or node.kind in MINOR_OPS)


def op_text(node: Node) -> str:
    """``conv 3x3/2, 64``, ``dwconv 5x5, 240``, ``BN``, ``MHSA h12``: an op as diagrams and tables name it."""
    attrs = node.attrs
    if node.kind == "conv":
        label = node.label()
        if attrs.groups > 1 and attrs.groups == attrs.out:
            label = "dw" + label.replace(f" g{attrs.groups}", "")
        return f"{label}, {attrs.out}"
    if node.kind == "self_attention":
        return f"MHSA, {attrs.heads} heads"
    if node.op is not None and node.op.family is Family.ACTIVATION and node.kind != "leaky_relu":
        # PyTorch's class name, however the spec wrote it (`relu`, `{op: activation, fn: relu}`): ReLU, SiLU, GELU
        name = attrs.fn if node.kind == "activation" else node.kind
        return ACTIVATIONS.get(ACTIVATION_ALIASES.get(name, name), node.label())
    return SHORT_NAMES.get(node.kind, node.label())


def lines(nodes: list[Node]) -> list[tuple[Node, str]]:
    """One line per significant op (with the op that starts it), the minor ops after it joined by `` · ``."""
    out: list[tuple[Node, str]] = []
    for node in nodes:
        text = op_text(node)
        if is_minor(node) and out:
            out[-1] = (out[-1][0], f"{out[-1][1]} · {text}")
        else:
            out.append((node, text))
    return out


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    """``(256, 56, 56)`` -> ``256x56x56`` (with multiplication signs)."""
    return TIMES.join(map(str, shape))
