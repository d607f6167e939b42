"""Block instances of the annotated IR, runs of identical repeats, and the op vocabulary the views share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family

# ops folded into the line of the op before them in labels and summaries
MINOR_FAMILIES = (Family.NORM, Family.ACTIVATION, Family.REGULARIZATION)
MINOR_OPS = ("flatten",)
MERGE_OPS = ("add", "multiply", "concat")
TIMES, EN_DASH = "\u00d7", "\u2013"  # of the xN marks, ranges of instances and shapes
SHORT_NAMES = {"batchnorm": "BN", "layernorm": "LN", "lrn": "LRN", "relu": "ReLU", "relu6": "ReLU6",
               "stochastic_depth": "drop path", "self_attention": "MHSA", "squeeze_excite": "SE"}


@dataclass
class Instance:
    """The nodes of one block instance, or of one section (stem, head, a primitive row) without blocks."""

    key: str
    stage: str
    nodes: list[Node]

    @property
    def output(self) -> Node:
        """The node whose tensor leaves the instance (the last one expanded)."""
        return self.nodes[-1]


@dataclass
class Run:
    """Consecutive instances of one stage with the same structure, drawn once and marked xN."""

    instances: list[Instance]

    @property
    def first(self) -> Instance:
        """The instance that stands for the run."""
        return self.instances[0]

    @property
    def count(self) -> int:
        """How many instances the run holds."""
        return len(self.instances)

    @property
    def title(self) -> str:
        """``layer1.1-2 x2`` (with an en dash and a multiplication sign) for a run, else the instance's key."""
        first, last = self.first.key, self.instances[-1].key
        if self.count == 1:
            return first
        parent, _, index = last.rpartition(".")
        end = index if parent and first.startswith(parent + ".") else last
        return f"{first}{EN_DASH}{end} {TIMES}{self.count}"


def instance_key(graph: Graph, node: Node) -> str:
    """A node's block instance within a table row; the stage itself outside blocks and in stem and head."""
    return node.block if node.block and node.stage in graph.stage_rows else node.stage


def instances(graph: Graph) -> list[Instance]:
    """Every instance, in the order the network was expanded."""
    found: dict[str, Instance] = {}
    for node in graph:
        key = instance_key(graph, node)
        found.setdefault(key, Instance(key, node.stage, [])).nodes.append(node)
    return list(found.values())


def signature(instance: Instance) -> tuple[Any, ...]:
    """What makes two instances identical: their nodes' kinds and attributes and their wiring, names aside.

    Inputs are numbered within the instance, inputs from outside by order of first use, and the drop
    rates of regularisation ops are ignored (they follow a schedule over the blocks); input shapes are
    ignored too, so DenseNet's growing layers and a stage's repeats after its first are identical.
    """
    local = {node.name: index for index, node in enumerate(instance.nodes)}
    external: dict[str, int] = {}
    parts = []
    for node in instance.nodes:
        wiring = tuple(local[source] if source in local else -1 - external.setdefault(source, len(external))
                       for source in node.inputs)
        regularization = node.op is not None and node.op.family is Family.REGULARIZATION
        parts.append((node.kind, None if regularization else node.attrs, wiring))
    return tuple(parts)


def runs(graph: Graph, expand: bool = False) -> list[Run]:
    """Instances grouped into runs of identical consecutive repeats of a stage (one run each with ``expand``)."""
    grouped: list[Run] = []
    previous: tuple[Any, ...] | None = None
    for instance in instances(graph):
        current = signature(instance)
        last = grouped[-1].instances[-1] if grouped else None
        if (not expand and last is not None and last.stage == instance.stage and instance.key != instance.stage
                and current == previous):
            grouped[-1].instances.append(instance)
        else:
            grouped.append(Run([instance]))
            previous = current
    return grouped


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
