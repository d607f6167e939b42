"""The graph IR: typed nodes on a networkx DiGraph; analysis passes fill in the annotation fields."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import networkx as nx

from archspec.errors import GraphError, Location, Site
from archspec.ops.base import Cost, Op, Shape

if TYPE_CHECKING:
    from archspec.spec.schema import Paper, Reported


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
    """Receptive field of the output positions, per spatial axis (height, width), in input pixels.

    ``size`` is the largest field of any position; ``padding`` is how far the first position's field reaches before
    the image; ``global_context`` marks that some path into the node sees the whole image (SE, attention);
    ``is_global`` that the node itself does. Along an axis, position p sees pixels ``p * stride + starts[p % period]``
    to ``p * stride + ends[p % period]``: one entry where every position's field is the same window shifted, more
    where attention within windows makes a position's field depend on its place in its window (Swin).
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    global_context: bool = False
    is_global: bool = False
    starts: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (0,))
    ends: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (0,))

    @property
    def period(self) -> tuple[int, int]:
        """How many positions along each axis before the fields repeat, shifted by ``period * stride``."""
        return len(self.starts[0]), len(self.starts[1])

    def span(self, axis: int, position: int) -> tuple[int, int]:
        """The first and last input pixel that ``position`` sees along ``axis`` (0: rows, 1: columns)."""
        residue, base = position % self.period[axis], position * self.stride[axis]
        return base + self.starts[axis][residue], base + self.ends[axis][residue]


class PassNotRun(GraphError):
    """An analysis result was read before the pass that writes it ran."""


@dataclass(eq=False)
class Node:
    """One primitive op (or the input) with its attributes, place in the spec, and analysis annotations.

    ``cost`` and ``rf`` are written by the analysis passes; reading one before its pass ran raises PassNotRun.
    """

    name: str
    op: Op | None
    attrs: Any
    inputs: list[str]
    stage: str
    block: str | None
    origin: Site | Location | None
    shape: Shape = ()
    functional: bool = False  # lowered to a function call in its scope's forward, not a child module
    _cost: Cost | None = field(default=None, repr=False)
    _rf: ReceptiveField | None = field(default=None, repr=False)

    @property
    def cost(self) -> Cost:
        """Parameters, buffers, MACs and other ops (the cost pass)."""
        if self._cost is None:
            raise PassNotRun(f"{self.name}: costs not analysed yet (run archspec.analysis.analyze_graph)")
        return self._cost

    @cost.setter
    def cost(self, value: Cost) -> None:
        self._cost = value

    @property
    def rf(self) -> ReceptiveField:
        """Receptive field of one output position (the receptive-field pass)."""
        if self._rf is None:
            raise PassNotRun(f"{self.name}: receptive field not analysed yet (run archspec.analysis.analyze_graph)")
        return self._rf

    @rf.setter
    def rf(self, value: ReceptiveField) -> None:
        self._rf = value

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


@dataclass(frozen=True)
class Stage:
    """One section of the network: the stem, the head, or a row of the paper's table as the spec wrote it."""

    name: str
    input_shape: Shape
    row: int | None = None  # index of its row in the spec's table; None for stem and head
    block: str | None = None  # the block or primitive op the row repeats
    is_block: bool = False  # whether ``block`` names a block (not a primitive op)
    written: tuple[str, ...] = ()  # the row's keys as written, in order (aliases as spelled: ``s``, ``layers``)
    values: Mapping[str, Any] = field(default_factory=dict)  # its arguments, n, and stride when written, evaluated

    @property
    def repeats(self) -> int:
        """How many times the row's block runs (1 for stem and head)."""
        return int(self.values.get("n", 1))


@dataclass(frozen=True)
class About:
    """What the spec says of the network besides its structure: description, paper, published figures, and the
    variables it sets to numbers (a design space's parameters: RegNet's d, w0, wa, wm, g)."""

    description: str | None = None
    paper: Paper | None = None
    reported: Reported | None = None
    parameters: dict[str, int | float] = field(default_factory=dict)


@dataclass(frozen=True)
class BlockCall:
    """One use of a block: its name and the arguments its call site gave (evaluated, in the order written)."""

    block: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """A network as a DAG of Nodes, with its input, main output and side outputs.

    ``digraph`` is the same graph as a networkx DiGraph, for networkx's algorithms (see docs/architecture.md).
    """

    name: str
    # how to compute the content hash of the spec it was built from: on demand, since only compiling needs it
    hash_spec: Callable[[], str] = field(default=str, repr=False)
    about: About = field(default_factory=About)
    nodes: dict[str, Node] = field(default_factory=dict)
    input: str = "input"
    outputs: list[str] = field(default_factory=list)
    stages: dict[str, Stage] = field(default_factory=dict)  # in network order: stem, table rows, head
    calls: dict[str, BlockCall] = field(default_factory=dict)  # block instances by the scope their nodes share
    _digraph: nx.DiGraph | None = field(default=None, repr=False)
    _memory: Memory | None = field(default=None, repr=False)
    _users: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _below: dict[str, str] = field(default_factory=dict, repr=False)  # dotted prefix -> first node named below it
    results: dict[str, Any] = field(default_factory=dict, repr=False)  # results of on-demand passes, by pass

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
        """The graph as a networkx DiGraph: one vertex per node (attribute ``node``), one edge per tensor read
        (attribute ``shape``); made on first use and again after a change, since analysis never needs it."""
        if self._digraph is None:
            digraph: nx.DiGraph[str] = nx.DiGraph()
            digraph.add_nodes_from((name, {"node": node}) for name, node in self.nodes.items())
            digraph.add_edges_from((source, node.name, {"shape": self.nodes[source].shape})
                                   for node in self.nodes.values() for source in node.inputs if source in self.nodes)
            self._digraph = digraph
        return self._digraph

    @cached_property
    def spec_hash(self) -> str:
        """The content hash of the spec the graph was built from (``Spec.content_hash``; empty if none)."""
        return self.hash_spec()

    @property
    def memory(self) -> Memory:
        """Activation memory (the memory pass)."""
        if self._memory is None:
            raise PassNotRun("activation memory not analysed yet (run archspec.analysis.analyze_graph)")
        return self._memory

    @memory.setter
    def memory(self, value: Memory) -> None:
        self._memory = value

    def ancestors(self, name: str) -> set[str]:
        """Every node ``name`` depends on, and itself: ``networkx.ancestors(graph.digraph, name) | {name}``."""
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

    def has_name(self, name: str) -> bool:
        """Whether ``name`` is a node's name or the namespace (dotted prefix) of one."""
        return name in self.nodes or name in self._below

    def users(self, name: str) -> list[str]:
        """Names of the nodes consuming ``name``'s output, in graph order (once per input they read it as)."""
        return self._users[name]

    def scope_output(self, members: list[Node]) -> Node | None:
        """The one node of ``members`` whose output the rest of the network reads, or None when there is not
        one."""
        inside = {node.name for node in members}
        leaving = [node for node in members
                   if node.name in self.outputs or any(user not in inside for user in self.users(node.name))]
        return leaving[-1] if len(leaving) == 1 else None

    @property
    def output(self) -> Node:
        """The main output node."""
        return self.nodes[self.outputs[0]]

    @property
    def rows(self) -> list[Stage]:
        """The stages that are rows of the paper's table, in order."""
        return [stage for stage in self.stages.values() if stage.row is not None]


@dataclass(frozen=True)
class Memory:
    """Activation elements per sample: the sum over all node outputs, and the inference peak.

    The peak frees each output after its last consumer runs, in the graph's execution order;
    the input is counted as live until its last use.
    """

    total: int
    peak: int


# Every figure an analysis computes (a node's params, MACs, receptive field, activation elements, and their totals)
# stays a machine-sized integer: beyond this a spec describes no real network, and Python could not even print a
# receptive-field stride that doubles 20,000 times.
MAX_FIGURE = 2**63


def check_figures(node: Node, what: str, *values: int) -> None:
    """Raise a GraphError at ``node`` if any of ``values`` exceeds ``MAX_FIGURE`` in magnitude."""
    if any(abs(value) > MAX_FIGURE for value in values):
        raise GraphError(f"{node.name} ({node.kind}): {what} exceed 2**63", node.origin)
