"""The analysis report: totals, one row per stage and one per node, read from the annotated IR."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from html import escape
from typing import Any

from archspec.analysis.receptive_field import headline_field
from archspec.ir.graph import Graph, ReceptiveField

BYTES_PER_ELEMENT = 4  # float32


def field_data(rf: ReceptiveField) -> dict[str, Any]:
    """A receptive field as plain data (the JSON shape of every field in a report)."""
    return {"size": list(rf.size), "stride": list(rf.stride), "padding": list(rf.padding),
            "period": list(rf.period), "global": rf.is_global, "global_context": rf.global_context}


@dataclass(frozen=True)
class Row:
    """Figures of one stage or one node."""

    name: str
    op: str
    output_shape: list[int]
    params: int
    buffers: int
    macs: int
    other_ops: int
    receptive_field: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (copies: a caller may change them)."""
        # dataclasses.asdict deep-copies field by field: 1.5 s of a 10,000-node report
        rf = {k: list(v) if isinstance(v, list) else v for k, v in self.receptive_field.items()}
        return {**vars(self), "output_shape": list(self.output_shape), "receptive_field": rf}


@dataclass(frozen=True)
class Report:
    """What archspec knows about a network without running it.

    ``macs`` counts multiply-accumulates of convolutions, linear layers and attention matmuls (QKV and
    output projections, QK^T, AV); ``flops`` = 2 x ``macs``. ``other_ops`` counts everything else
    (norms, activations, pooling, element-wise merges) at one op per element touched. ``aux_params`` and
    ``aux_macs`` are the share of auxiliary heads (side outputs), included in the totals.
    """

    name: str
    input_shape: list[int]
    output_shape: list[int]
    output_shapes: list[list[int]]
    params: int
    buffers: int
    macs: int
    flops: int
    other_ops: int
    aux_params: int
    aux_macs: int
    activations: int
    peak_activations: int
    activation_bytes: int
    receptive_field: dict[str, Any]
    macs_by_family: dict[str, int]
    stages: list[Row]
    graph: Graph = field(repr=False, compare=False)

    def __repr__(self) -> str:
        outputs = ", ".join("x".join(map(str, shape)) for shape in self.output_shapes)
        return (f"<Report {self.name}: {self.params:,} params, {self.macs:,} MACs, "
                f"input {'x'.join(map(str, self.input_shape))} -> {outputs}>")

    def _repr_html_(self) -> str:
        """The stages and totals as an HTML table, which notebooks display (``archspec.summary``: per layer)."""
        cells = [["stage", "output", "params", "MACs"],
                 *([r.name, "x".join(map(str, r.output_shape)), f"{r.params:,}", f"{r.macs:,}"] for r in self.stages),
                 ["total", "x".join(map(str, self.output_shape)), f"{self.params:,}", f"{self.macs:,}"]]
        tags = ["th", *["td"] * (len(cells) - 1)]
        body = "".join("<tr>" + "".join(f'<{t} style="text-align:{"left" if i < 2 else "right"}">{escape(c)}</{t}>'
                                        for i, c in enumerate(row)) + "</tr>"
                       for t, row in zip(tags, cells, strict=True))
        return f"<table><caption>{escape(repr(self))}</caption>{body}</table>"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("graph", "stages")}
        return {**data, "stages": [row.to_dict() for row in self.stages]}


def make_report(graph: Graph) -> Report:
    """Aggregate the annotated graph into a Report."""
    totals = {"params": 0, "buffers": 0, "macs": 0, "other_ops": 0}
    stages: dict[str, list[int]] = {}
    last_of_stage: dict[str, str] = {}
    by_family: dict[str, int] = {}
    main = graph.ancestors(graph.outputs[0])
    aux_params = aux_macs = 0
    for node in graph:
        cost = node.cost
        figures = (cost.params, cost.buffers, cost.macs, cost.other_ops)
        for key, value in zip(totals, figures, strict=True):
            totals[key] += value
        if node.op is not None and cost.macs:
            by_family[node.op.family.value] = by_family.get(node.op.family.value, 0) + cost.macs
        if node.name not in main:
            aux_params += cost.params
            aux_macs += cost.macs
        if not node.is_input:
            sums = stages.setdefault(node.stage, [0, 0, 0, 0])
            for i, value in enumerate(figures):
                sums[i] += value
            last_of_stage[node.stage] = node.name
    stage_rows = []
    for name in graph.stages:
        if name not in stages:
            continue
        last = graph[last_of_stage[name]]
        params, buffers, macs, other_ops = stages[name]
        stage_rows.append(Row(name, "stage", list(last.shape), params, buffers, macs, other_ops, field_data(last.rf)))
    rf = headline_field(graph)
    return Report(
        name=graph.name,
        input_shape=list(graph[graph.input].shape),
        output_shape=list(graph.output.shape),
        output_shapes=[list(graph[name].shape) for name in graph.outputs],
        params=totals["params"],
        buffers=totals["buffers"],
        macs=totals["macs"],
        flops=2 * totals["macs"],
        other_ops=totals["other_ops"],
        aux_params=aux_params,
        aux_macs=aux_macs,
        activations=graph.memory.total,
        peak_activations=graph.memory.peak,
        activation_bytes=graph.memory.total * BYTES_PER_ELEMENT,
        receptive_field=field_data(rf),
        macs_by_family=by_family,
        stages=stage_rows,
        graph=graph,
    )
