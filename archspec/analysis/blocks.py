"""Block-structure pass: the block instances of the IR and the runs of identical consecutive repeats.

It runs on demand (the views need it, the figures do not) and keeps its result on the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family

EN_DASH, TIMES = "\u2013", "\u00d7"  # of the titles of runs: ranges of instances, counts


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
    return node.block if node.block and graph.stages[node.stage].row is not None else node.stage


def _instances(graph: Graph) -> list[Instance]:
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


def _runs(found: list[Instance]) -> list[Run]:
    """Instances grouped into runs of identical consecutive repeats of a stage."""
    grouped: list[Run] = []
    previous: tuple[Any, ...] | None = None
    for instance in found:
        current = signature(instance)
        last = grouped[-1].instances[-1] if grouped else None
        if (last is not None and last.stage == instance.stage and instance.key != instance.stage
                and current == previous):
            grouped[-1].instances.append(instance)
        else:
            grouped.append(Run([instance]))
            previous = current
    return grouped


@dataclass(frozen=True)
class Blocks:
    """Every instance in expansion order, and the same instances grouped into runs."""

    instances: list[Instance]
    runs: list[Run]

    def grouped(self, expand: bool = False) -> list[Run]:
        """The runs, or with ``expand`` one run per instance."""
        return [Run([instance]) for instance in self.instances] if expand else self.runs


def block_structure(graph: Graph) -> Blocks:
    """The graph's instances and runs, computed once per graph."""
    found = graph.results.get("blocks")
    if not isinstance(found, Blocks):
        instances = _instances(graph)
        found = graph.results["blocks"] = Blocks(instances, _runs(instances))
    return found
