"""The analysis report: totals, one row per stage and one per node, read from the annotated IR."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from archspec.analysis.receptive_field import headline_field
from archspec.ir.graph import Graph, ReceptiveField

BYTES_PER_ELEMENT = 4  # float32


def _field(rf: ReceptiveField | None) -> dict[str, Any] | None:
    if rf is None:
        return None
    return {"size": list(rf.size), "stride": list(rf.stride), "padding": list(rf.padding),
            "global": rf.is_global, "global_context": rf.global_context}


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
    receptive_field: dict[str, Any] | None


@dataclass(frozen=True)
class Report:
    """What archspec knows about a network without running it.

    ``macs`` counts multiply-accumulates of convolutions, linear layers and attention matmuls (QKV and
    output projections, QK^T, AV); ``flops`` = 2 x ``macs``. ``other_ops`` counts everything else
    (norms, activations, pooling, element-wise merges) at one op per element touched.
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
    activations: int
    peak_activations: int
    activation_bytes: int
    receptive_field: dict[str, Any]
    macs_by_family: dict[str, int]
    stages: list[Row] = field(default_factory=list)
    layers: list[Row] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def make_report(graph: Graph) -> Report:
    """Aggregate the annotated graph into a Report."""
    layers, stages, by_family = [], {}, {}
    for node in graph:
        cost = node.cost
        assert cost is not None
        row = Row(node.name, node.kind, list(node.shape), cost.params, cost.buffers, cost.macs, cost.other_ops,
                  _field(node.rf))
        layers.append(row)
        if node.op is not None and cost.macs:
            by_family[node.op.family.value] = by_family.get(node.op.family.value, 0) + cost.macs
        if node.is_input:
            continue
        stage = stages.setdefault(node.stage, [])
        stage.append(row)
    stage_rows = []
    for name in graph.stages:
        rows = stages.get(name, [])
        if not rows:
            continue
        last = rows[-1]
        stage_rows.append(Row(name, "stage", last.output_shape, sum(r.params for r in rows),
                              sum(r.buffers for r in rows), sum(r.macs for r in rows),
                              sum(r.other_ops for r in rows), last.receptive_field))
    macs = sum(r.macs for r in layers)
    rf = headline_field(graph)
    return Report(
        name=graph.name,
        input_shape=list(graph[graph.input].shape),
        output_shape=list(graph.output.shape),
        output_shapes=[list(graph[name].shape) for name in graph.outputs],
        params=sum(r.params for r in layers),
        buffers=sum(r.buffers for r in layers),
        macs=macs,
        flops=2 * macs,
        other_ops=sum(r.other_ops for r in layers),
        activations=graph.memory.total,
        peak_activations=graph.memory.peak,
        activation_bytes=graph.memory.total * BYTES_PER_ELEMENT,
        receptive_field={"size": list(rf.size), "stride": list(rf.stride), "padding": list(rf.padding),
                         "global_context": rf.global_context},
        macs_by_family=by_family,
        stages=stage_rows,
        layers=layers,
    )
