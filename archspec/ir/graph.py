"""The graph IR: typed nodes on a networkx DiGraph; analysis passes fill in the annotation fields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from archspec.errors import GraphError, Location
from archspec.ops.base import Cost, Op, Shape


@dataclass(frozen=True)
class ReceptiveField:
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
    origin: Location | None
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
    nodes: dict[str, Node] = field(default_factory=dict)
    digraph: nx.DiGraph = field(default_factory=nx.DiGraph)
    input: str = "input"
    outputs: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    stage_inputs: dict[str, Shape] = field(default_factory=dict)  # input shape of each stage (table row)
    stage_rows: dict[str, int] = field(default_factory=dict)  # stage name -> index of its row in the spec
    # stage name -> the row's fields as evaluated: its arguments, n, and stride when written
    stage_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: Any = None  # set by the memory pass

    def add(self, node: Node) -> Node:
        """Insert a node after its inputs; names must be unique."""
        if node.name in self.nodes:
            raise GraphError(f"duplicate name {node.name!r}", node.origin)
        self.nodes[node.name] = node
        self.digraph.add_node(node.name)
        for source in node.inputs:
            self.digraph.add_edge(source, node.name)
        return node

    def __iter__(self) -> Iterator[Node]:
        """Nodes in insertion order, which is a topological order."""
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def users(self, name: str) -> list[str]:
        """Names of the nodes consuming ``name``'s output."""
        return list(self.digraph.successors(name))

    @property
    def output(self) -> Node:
        """The main output node."""
        return self.nodes[self.outputs[0]]
