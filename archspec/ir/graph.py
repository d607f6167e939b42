"""The graph IR: typed nodes on a networkx DiGraph; analysis passes fill in the annotation fields."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import networkx as nx

from archspec.errors import GraphError, Location, Site
from archspec.ops.base import Cost, Op, Shape


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large graph is built or annotated."""
    # the IR holds no cycles to reclaim, but its many small objects trigger full collections that each scan
    # every node so far: building a 70,000-node graph took twice as long, and grew faster than linearly
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ReceptiveField(NamedTuple):
    """Receptive field of one output position, per spatial axis (height, width), in input pixels.

    ``padding`` is how far the first position's window reaches before the image; ``global_context`` marks
    that some path into the node sees the whole image (SE, attention); ``is_global`` that the node itself does.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    global_context: bool = False
    is_global: bool = False


@dataclass(eq=False)
class Node:
    """One primitive op (or the input) with its attributes, place in the spec, and analysis annotations."""

    name: str
    op: Op | None
    attrs: Any
    inputs: list[str]
    stage: str
    block: str | None
    origin: Site | Location | None
    shape: Shape = ()
    cost: Cost | None = None
    rf: ReceptiveField | None = None

    @property
    def is_input(self) -> bool:
        """True for the network's input placeholder."""
        return self.op is None

    @property
    def kind(self) -> str:
        """The op's name, or ``input``."""
        return "input" if self.op is None else self.op.name

    def label(self) -> str:
        """Short human label of the op."""
        return "input" if self.op is None else self.op.label(self.attrs)


@dataclass
class Graph:
    """A network as a DAG of Nodes, with its input, main output and side outputs."""

    name: str
    spec_hash: str = ""  # the content hash of the spec it was built from (Spec.content_hash)
    nodes: dict[str, Node] = field(default_factory=dict)
    input: str = "input"
    outputs: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    stage_inputs: dict[str, Shape] = field(default_factory=dict)  # input shape of each stage (table row)
    stage_rows: dict[str, int] = field(default_factory=dict)  # stage name -> index of its row in the spec
    # stage name -> the row's fields as evaluated: its arguments, n, and stride when written
    stage_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: Any = None  # set by the memory pass
    _users: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _below: dict[str, str] = field(default_factory=dict, repr=False)  # dotted prefix -> first node named below it
    _digraph: nx.DiGraph | None = field(default=None, repr=False)

    def add(self, node: Node) -> Node:
        """Insert a node after its inputs; names must be unique, and no name may also be the namespace (dotted
        prefix) of another, since each becomes a torch submodule at its dotted path."""
        if node.name in self.nodes:
            raise GraphError(f"duplicate name {node.name!r}", node.origin)
        if node.name in self._below:
            raise GraphError(f"duplicate name {node.name!r} (already the prefix of {self._below[node.name]!r})",
                             node.origin)
        parts = node.name.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
        for prefix in prefixes:
            if prefix in self.nodes:
                raise GraphError(f"duplicate name {prefix!r} (the prefix of {node.name!r}, already a node)",
                                 node.origin)
        for prefix in prefixes:
            self._below.setdefault(prefix, node.name)
        self.nodes[node.name] = node
        self._users[node.name] = []
        for source in node.inputs:
            if source in self._users:
                self._users[source].append(node.name)
        self._digraph = None
        return node

    @property
    def digraph(self) -> nx.DiGraph:
        """The networkx view: one vertex per node (attribute ``node``), one edge per tensor (``shape``)."""
        if self._digraph is None:
            digraph = nx.DiGraph()
            digraph.add_nodes_from((name, {"node": node}) for name, node in self.nodes.items())
            digraph.add_edges_from((source, node.name, {"shape": self.nodes[source].shape})
                                   for node in self.nodes.values() for source in node.inputs)
            self._digraph = digraph
        return self._digraph

    def ancestors(self, name: str) -> set[str]:
        """Every node ``name`` depends on, and itself."""
        seen, stack = {name}, [name]
        while stack:
            for source in self.nodes[stack.pop()].inputs:
                if source not in seen:
                    seen.add(source)
                    stack.append(source)
        return seen

    def __iter__(self) -> Iterator[Node]:
        """Nodes in insertion order, which is a topological order."""
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def users(self, name: str) -> list[str]:
        """Names of the nodes consuming ``name``'s output, in graph order."""
        return self._users[name]

    @property
    def output(self) -> Node:
        """The main output node."""
        return self.nodes[self.outputs[0]]


# Every figure an analysis computes (a node's params, MACs, receptive field, activation elements, and their totals)
# stays a machine-sized integer: beyond this a spec describes no real network, and Python could not even print a
# receptive-field stride that doubles 20,000 times.
MAX_FIGURE = 2**63


def check_figures(node: Node, what: str, *values: int) -> None:
    """Raise a GraphError at ``node`` if any of ``values`` exceeds ``MAX_FIGURE`` in magnitude."""
    if any(abs(value) > MAX_FIGURE for value in values):
        raise GraphError(f"{node.name} ({node.kind}): {what} exceed 2**63", node.origin)
