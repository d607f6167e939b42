"""Graphviz diagrams of the annotated IR at stage, block or layer level, rendered with the ``dot`` binary."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from html import escape

import graphviz
from graphviz import quoting

from archspec.analysis.blocks import TIMES, Run, block_structure
from archspec.backends.labels import MERGE_OPS, is_minor, lines, op_text, shape_text
from archspec.backends.text import human
from archspec.errors import RenderError
from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family

LEVELS = ("stage", "block", "layer")
FORMATS = ("svg", "png", "pdf", "dot")
DIRECTIONS = ("TB", "LR", "BT", "RL")  # Graphviz's rankdir: top to bottom (default), left to right, ...
MIN_DPI, MAX_DPI = 36, 600
MAX_BITMAP = 32767  # pixels along either side: cairo's limit, beyond which dot shrinks the picture to fit
FONT = "Helvetica"
COLOURS = {
    Family.CONV: "#cfe2f3", Family.LINEAR: "#d9d2e9", Family.NORM: "#fff2cc", Family.ACTIVATION: "#fce5cd",
    Family.POOL: "#d9ead3", Family.ATTENTION: "#f4cccc", Family.TOKEN: "#d0e0e3", Family.TENSOR: "#eeeeee",
    Family.REGULARIZATION: "#f3f3f3",
}
# which family colours a box of several ops when none of them does arithmetic
PRIORITY = (Family.ATTENTION, Family.CONV, Family.LINEAR, Family.POOL, Family.TOKEN, Family.TENSOR, Family.NORM,
            Family.ACTIVATION, Family.REGULARIZATION)
SHORTCUT_COLOUR = "#7f7f7f"
MAX_STAGE_LINES = 8
MAX_BOXES = 5000  # dot's layout grows faster than linearly: beyond this it runs for minutes
DOT_SECONDS = 60
EDGE_STYLES = {
    "main": {"weight": "3"},
    "shortcut": {"color": SHORTCUT_COLOUR, "penwidth": "1.6"},  # identity shortcuts, dense connections
    "side": {"style": "dashed"},  # into a squeeze-excitation
    "gate": {"style": "dashed", "arrowhead": "odot"},  # out of it, scaling the main path
}


@dataclass
class Box:
    """One drawn node: the IR nodes it stands for (those of a run's first instance) and its title."""

    id: str
    nodes: list[Node]
    ops: list[tuple[Node, str]]  # the label's lines, each with the node that starts it
    title: str | None = None
    count: int = 1  # instances of the run when the box alone stands for it
    final_shape: tuple[int, ...] | None = None  # the output shape in the run's last instance, when it differs

    @property
    def family(self) -> Family | None:
        """The family that colours the box: the one doing most MACs, else the first by PRIORITY."""
        macs: dict[Family, int] = {}
        for node in self.nodes:
            if node.op is not None:
                macs[node.op.family] = macs.get(node.op.family, 0) + node.cost.macs
        if not macs:
            return None
        return max(macs, key=lambda f: (macs[f], -PRIORITY.index(f)))

    @property
    def is_merge(self) -> bool:
        """True when the box starts with an add, multiply or concat."""
        return self.nodes[0].kind in MERGE_OPS


@dataclass
class Drawing:
    """Boxes, the box of every IR node, clusters and the edges between boxes, before Graphviz lays them out."""

    graph: Graph
    boxes: dict[str, Box] = field(default_factory=dict)
    box_of: dict[str, str] = field(default_factory=dict)
    clusters: list[tuple[Run, list[str]]] = field(default_factory=list)
    top: list[str] = field(default_factory=list)  # boxes outside clusters
    edges: dict[tuple[str, str], str] = field(default_factory=dict)  # (tail, head) -> style name

    def add_box(self, box: Box, members: list[str]) -> None:
        """Register a box and the IR nodes drawn as it."""
        self.boxes[box.id] = box
        self.box_of.update(dict.fromkeys(members, box.id))

    def connect(self, tail: str, head: str, style: str) -> None:
        """An edge between the boxes of two IR nodes, unless they share a box; the first style given wins."""
        a, b = self.box_of[tail], self.box_of[head]
        if a != b:
            self.edges.setdefault((a, b), style)


def diagram(graph: Graph, level: str = "block", expand: bool = False, edge_shapes: bool = False,
            direction: str = "TB") -> graphviz.Digraph:
    """The network as a Graphviz digraph: one node per stage, block (or run of identical blocks) or layer, laid out
    in ``direction`` (TB: top to bottom, LR: left to right, ...)."""
    if level not in LEVELS:
        raise RenderError(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    if direction not in DIRECTIONS:
        raise RenderError(f"--direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    drawing = _stages(graph) if level == "stage" else _blocks(graph, level == "layer", expand)
    if len(drawing.boxes) > MAX_BOXES:
        coarser = [*(["--level block"] if level == "layer" else []), *(["without --expand"] if expand else [])]
        hint = f"; try {' or '.join(coarser)}" if coarser else ""
        raise RenderError(f"the diagram would have {len(drawing.boxes)} boxes, more than the {MAX_BOXES} that dot "
                          f"lays out in reasonable time{hint}")
    digraph = _to_graphviz(drawing, edge_shapes, level)
    digraph.graph_attr["rankdir"] = direction
    return digraph


def render(digraph: graphviz.Digraph, fmt: str, seconds: float = DOT_SECONDS, dpi: int | None = None) -> bytes:
    """The diagram in ``fmt``: the DOT source for ``dot``, else what the ``dot`` binary makes of it within
    ``seconds`` (a PNG at ``dpi``, default 96); a PNG too large for a bitmap is refused with advice rather than
    shrunk."""
    if fmt not in FORMATS:
        raise RenderError(f"diagram format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, int) or not MIN_DPI <= dpi <= MAX_DPI):
        raise RenderError(f"--dpi must be an integer from {MIN_DPI} to {MAX_DPI}, got {dpi!r}")
    if fmt == "dot":
        return digraph.source.encode()
    try:
        done = subprocess.run(["dot", f"-T{fmt}", *([f"-Gdpi={dpi}"] if dpi else [])],
                              input=digraph.source.encode(), capture_output=True, timeout=seconds, check=False)
    except FileNotFoundError:
        raise RenderError("Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz)") from None
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        raise RenderError(f"dot did not finish within {seconds:g} s; try --level block or without --expand") \
            from None
    except OSError as exc:
        raise RenderError(f"cannot run Graphviz's dot: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise RenderError(f"dot failed (exit status {done.returncode}): {_first_error(done.stderr)}")
    if b"too large for cairo-renderer bitmaps" in done.stderr:
        raise RenderError(f"the diagram is more than {MAX_BITMAP} pixels along one side, too large for a PNG (dot "
                          f"would shrink it unreadably): write .svg or .pdf, or try --direction LR, a lower --dpi, "
                          f"--level block or no --expand")
    return done.stdout


def _first_error(stderr: bytes) -> str:
    """The line of dot's stderr that says what went wrong: the first error, else the first line at all."""
    lines = [" ".join(line.split()) for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    line = (errors or lines or ["no message"])[0]
    return line if len(line) <= 200 else line[:200] + "..."


class _Digraph(graphviz.Digraph):
    """A Digraph whose node, edge and subgraph names are taken literally: a colon in one is not a port, ``<...>``
    is not HTML and a backslash is not an escape."""

    _quote = staticmethod(lambda name: quoting.quote(graphviz.escape(name)))
    _quote_edge = _quote

    def _repr_mimebundle_(self, include: object = None, exclude: object = None, **_: object) -> dict[str, str]:
        return {"image/svg+xml": self._repr_svg_()}

    def _repr_svg_(self) -> str:
        """The diagram as SVG, which notebooks display."""
        return render(self, "svg").decode()


def _stages(graph: Graph) -> Drawing:
    drawing = Drawing(graph)
    members: dict[str, list[Node]] = {}
    for node in graph:
        members.setdefault(node.stage, []).append(node)
    for stage, nodes in members.items():
        title, ops = stage, [(head, op_text(head)) for head, _ in lines(nodes) if not is_minor(head)]
        record = graph.stages.get(stage)  # none for the input
        if record is not None and record.row is not None:
            n = record.repeats
            title = f"{stage}: {record.block}" + (f" {TIMES}{n}" if n > 1 else "")
            ops = [] if nodes[0].block else ops  # the title names the block; its ops are a level down
        drawing.add_box(Box(stage, nodes, ops[:MAX_STAGE_LINES], title), [n.name for n in nodes])
        drawing.top.append(stage)
    _connect(drawing, dict.fromkeys(drawing.box_of, (0, 0)))  # one run of one instance: no edge is dropped
    return drawing


def _blocks(graph: Graph, per_layer: bool, expand: bool) -> Drawing:
    drawing = Drawing(graph)
    where: dict[str, tuple[int, int]] = {}  # IR node -> (run, instance within the run)
    for index, run in enumerate(block_structure(graph).grouped(expand)):
        first = run.first.nodes
        representative: dict[str, str] = {}
        for j, instance in enumerate(run.instances):
            for position, node in enumerate(instance.nodes):
                representative[node.name] = first[position].name
                where[node.name] = (index, j)
        units = [[node] for node in first] if per_layer else _units(graph, first)
        alone = len(units) == 1
        box_of_first = {node.name: unit[0].name for unit in units for node in unit}
        members: dict[str, list[str]] = {}
        for name, rep in representative.items():
            members.setdefault(box_of_first[rep], []).append(name)
        positions = {node.name: position for position, node in enumerate(first)}
        ids = []
        for unit in units:
            final = run.instances[-1].nodes[positions[unit[-1].name]].shape
            box = Box(unit[0].name, unit, lines(unit), run.title if alone else None, run.count if alone else 1,
                      final if final != unit[-1].shape else None)
            drawing.add_box(box, members[box.id])
            ids.append(box.id)
        if alone:
            drawing.top.extend(ids)
        else:
            drawing.clusters.append((run, ids))
    _connect(drawing, where)
    return drawing


def _units(graph: Graph, nodes: list[Node]) -> list[list[Node]]:
    """Maximal chains of the instance's nodes (a node joins its input's chain when it is that input's only
    user); squeeze-excitation stays alone so that it can be drawn as a side path."""
    unit_of: dict[str, int] = {}
    units: list[list[Node]] = []
    for node in nodes:
        source = node.inputs[0] if len(node.inputs) == 1 else None
        if (source in unit_of and graph.users(source) == [node.name]
                and "squeeze_excite" not in (node.kind, graph[source].kind)):
            unit_of[node.name] = unit_of[source]
            units[unit_of[source]].append(node)
        else:
            unit_of[node.name] = len(units)
            units.append([node])
    return units


def _connect(drawing: Drawing, where: dict[str, tuple[int, int]]) -> None:
    """Edges between boxes from the IR's edges; those between different instances of one run are dropped."""
    graph = drawing.graph
    for node in graph:
        for source in node.inputs:
            (run_a, instance_a), (run_b, instance_b) = where[source], where[node.name]
            if run_a == run_b and instance_a != instance_b:
                continue
            tail = graph[source]
            if tail.kind == "squeeze_excite":
                # x * SE(x): the gated tensor passes by the side path, which scales it
                drawing.connect(tail.inputs[0], node.name, "main")
                drawing.connect(source, node.name, "gate")
            elif node.kind == "squeeze_excite":
                drawing.connect(source, node.name, "side")
            elif node.kind in MERGE_OPS and len(graph.users(source)) > 1:
                drawing.connect(source, node.name, "shortcut")
            else:
                drawing.connect(source, node.name, "main")



def _to_graphviz(drawing: Drawing, edge_shapes: bool, level: str) -> graphviz.Digraph:
    graph = drawing.graph
    dot = _Digraph(graph.name, graph_attr={
        "rankdir": "TB", "ordering": "in", "fontname": FONT, "nodesep": "0.25", "ranksep": "0.3", "newrank": "true",
        "compound": "true", "label": f"{graph.name} ({level} level)", "labelloc": "t", "fontsize": "16"},
        node_attr={"fontname": FONT, "fontsize": "10", "shape": "box", "style": "rounded,filled",
                   "margin": "0.08,0.04"},
        edge_attr={"fontname": FONT, "fontsize": "8", "arrowsize": "0.6"})
    for box_id in drawing.top:
        _node(dot, drawing.boxes[box_id], level)
    for run, ids in drawing.clusters:
        last = run.instances[-1].output
        params = sum(node.cost.params for instance in run.instances for node in instance.nodes)
        figures = f"out {shape_text(last.shape)}" + (f" · {_count(params)} params" if params else "")
        label = _html([f"<B>{escape(run.title)}</B>  {_small(figures)}"])
        with dot.subgraph(name=f"cluster_{run.first.key}") as sub:
            sub.attr(label=label, style="rounded,dashed" if run.count > 1 else "rounded", color="#999999",
                     fontname=FONT, fontsize="10", labeljust="r")
            for box_id in ids:
                _node(sub, drawing.boxes[box_id], level)
            _side_paths(sub, drawing, ids)
    _side_paths(dot, drawing, drawing.top)
    entries = _single_entries(drawing)
    for (tail, head), style in drawing.edges.items():
        attrs = dict(EDGE_STYLES[style])
        if edge_shapes:
            attrs["label"] = shape_text(drawing.boxes[tail].nodes[-1].shape)
        if entries.get(head, (None,))[0] == tail:
            # end at the cluster's border rather than cross its title on the way to the box
            attrs["lhead"] = graphviz.escape(entries[head][1])  # the cluster's name, written as _Digraph does
        dot.edge(tail, head, **attrs)
    _legend(dot, drawing)
    return dot


def _single_entries(drawing: Drawing) -> dict[str, tuple[str, str]]:
    """Box -> (its one input from outside, its cluster) for clusters entered by one main edge only."""
    cluster_of = {box_id: f"cluster_{run.first.key}" for run, ids in drawing.clusters for box_id in ids}
    entering: dict[str, list[tuple[str, str]]] = {}
    for (tail, head), style in drawing.edges.items():
        cluster = cluster_of.get(head)
        if cluster and cluster_of.get(tail) != cluster and style == "main":
            entering.setdefault(cluster, []).append((tail, head))
    return {head: (tail, cluster) for cluster, edges in entering.items() if len(edges) == 1
            for tail, head in edges}


def _side_paths(dot: graphviz.Digraph, drawing: Drawing, ids: list[str]) -> None:
    """Squeeze-excitation beside the box it reads from, so that the side path does not lengthen the main one."""
    for box_id in ids:
        first = drawing.boxes[box_id].nodes[0]
        if first.kind == "squeeze_excite" and drawing.box_of[first.inputs[0]] in ids:
            with dot.subgraph() as same:
                same.attr(rank="same")
                same.node(drawing.box_of[first.inputs[0]])
                same.node(box_id)


def _count(value: int) -> str:
    return human(value, digits=1)


def _node(dot: graphviz.Digraph, box: Box, level: str) -> None:
    first = box.nodes[0]
    if first.is_input:
        dot.node(box.id, _html([f"<B>input</B> {shape_text(first.shape)}"]), fillcolor="white", tooltip="input")
        return
    rows = [f"<B>{escape(box.title)}</B>"] if box.title else []
    for head, text in box.ops:
        if head.kind == "self_attention":
            rows.append('<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="1"><TR>'
                        '<TD>Q</TD><TD>K</TD><TD>V</TD></TR></TABLE>')
        rows.append(escape(text))
    params = sum(node.cost.params for node in box.nodes)
    macs = sum(node.cost.macs for node in box.nodes)
    figures = [shape_text(box.nodes[-1].shape)]
    if box.final_shape:
        figures[0] += f" \u2192 {shape_text(box.final_shape)}"  # DenseNet's growing concatenation
    if params:
        figures.append(f"{_count(params)} params" + (" each" if box.count > 1 else ""))
    if level == "stage" and macs:
        figures.append(f"{_count(macs)} MACs")
    rows.append(_small(" · ".join(figures)))
    family = box.family
    dot.node(box.id, _html(rows), fillcolor="white" if family is None else COLOURS[family],
             shape="oval" if box.is_merge and level != "stage" else "box", tooltip=graphviz.escape(box.id))


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="8" COLOR="#404040">{escape(text)}</FONT>'


def _html(rows: list[str]) -> str:
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _legend(dot: graphviz.Digraph, drawing: Drawing) -> None:
    families = [f for f in Family if any(box.family is f for box in drawing.boxes.values())]
    rows = [f'<TR><TD BGCOLOR="{COLOURS[f]}" BORDER="1" WIDTH="18"> </TD><TD ALIGN="LEFT">{f.value}</TD></TR>'
            for f in families]
    notes = []
    if any(box.count > 1 for box in drawing.boxes.values()) or any(run.count > 1 for run, _ in drawing.clusters):
        notes.append(f"{TIMES}N: N identical consecutive blocks, drawn once")
    styles = set(drawing.edges.values())
    if "shortcut" in styles:
        notes.append("grey edge: shortcut (identity or dense connection)")
    if "gate" in styles:
        notes.append("dashed: squeeze-excitation side path")
    rows += [f'<TR><TD COLSPAN="2" ALIGN="LEFT">{escape(note)}</TD></TR>' for note in notes]
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label="legend", fontname=FONT, fontsize="10", style="rounded", color="#bbbbbb")
        legend.node("legend", f'<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="2">{"".join(rows)}</TABLE>>',
                    shape="plaintext", style="")
