"""The layer summary: one row per module of the compiled network's tree (stage, block, layer), cut at a depth."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from archspec.analysis.report import BYTES_PER_ELEMENT, Report, field_data
from archspec.backends.labels import op_text
from archspec.backends.table import PAPER_NAMES, value_text
from archspec.backends.text import aligned, dims, field_summary, human, short_field
from archspec.errors import SpecError
from archspec.ir.graph import Graph, Node
from archspec.ops.base import numel

COLUMNS = ("op", "input", "output", "params", "macs", "macs_percent", "activations", "receptive_field")
# torchinfo's names for the same columns
COLUMN_ALIASES = {"input_size": "input", "output_size": "output", "num_params": "params", "mult_adds": "macs"}
HEADERS = {"op": "op", "input": "input", "output": "output", "params": "params", "macs": "MACs",
           "macs_percent": "MACs %", "activations": "activations", "receptive_field": "RF"}
RIGHT = {"params", "macs", "macs_percent", "activations", "receptive_field"}
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1,
               "int8": 1}
DTYPE_ALIASES = {"fp64": "float64", "double": "float64", "fp32": "float32", "float": "float32", "fp16": "float16",
                 "half": "float16", "bf16": "bfloat16", "fp8": "float8_e4m3fn"}
MAX_DEPTH = 1000  # deeper than any module tree a spec may nest


@dataclass(frozen=True)
class LayerRow:
    """One module of the tree: a stage, a block instance, a named scope or a layer (a node of the IR).

    ``activations`` counts the elements of every output its layers produce for one sample; ``receptive_field`` is
    its output's (the tensor that leaves it)."""

    name: str
    depth: int
    leaf: bool
    op: str
    input_shapes: list[list[int]]
    output_shape: list[int]
    params: int
    buffers: int
    macs: int
    macs_percent: float
    other_ops: int
    activations: int
    receptive_field: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the same keys for every row (and for ``build --json``'s ``layers``)."""
        return dict(vars(self))


@dataclass(frozen=True)
class Summary:
    """The layer table of a network with its totals, as text (``str``), CSV, JSON data or HTML (notebooks)."""

    report: Report
    rows: list[LayerRow]
    columns: tuple[str, ...]
    depth: int | None
    dtype: str

    def __str__(self) -> str:
        return "\n".join([self._title(), "", *aligned(self._header(), [self._cells(r) for r in self.rows],
                                                           self._right()), "", *self.totals()])

    def __repr__(self) -> str:
        return str(self)

    def _title(self) -> str:
        report = self.report
        outputs = ", ".join(dims(s) for s in report.output_shapes)
        shown = "every depth" if self.depth is None else f"depth {self.depth}"
        return f"{report.name}: input {dims(report.input_shape)} -> output {outputs} ({shown})"

    def _header(self) -> list[str]:
        return ["name", *(HEADERS[c] for c in self.columns)]

    def _right(self) -> set[int]:
        return {i + 1 for i, c in enumerate(self.columns) if c in RIGHT}

    def _cells(self, row: LayerRow) -> list[str]:
        name = "  " * (row.depth - 1) + row.name.rsplit(".", 1)[-1]
        text = {"op": row.op, "input": _inputs(row.input_shapes), "output": dims(row.output_shape),
                "params": f"{row.params:,}", "macs": human(row.macs),
                "macs_percent": f"{row.macs_percent:.2f}",
                "activations": human(row.activations * DTYPE_BYTES[self.dtype], "B"),
                "receptive_field": short_field(row.receptive_field)}
        return [name, *(text[c] for c in self.columns)]

    def totals(self) -> list[str]:
        """The totals, each with the convention it counts by."""
        report, size = self.report, DTYPE_BYTES[self.dtype]
        weights = f"{human(report.params * BYTES_PER_ELEMENT, 'B')} as float32"
        if self.dtype != "float32":
            weights += f", {human(report.params * size, 'B')} as {self.dtype}"
        rf = report.receptive_field
        lines = [
            ("params", report.params, f"trainable; weights {weights}"),
            ("buffers", report.buffers, f"BatchNorm running statistics and other state; "
                                        f"{human(report.buffers * BYTES_PER_ELEMENT, 'B')} as float32"),
            ("MACs", report.macs, "multiply-accumulates of convolutions, linear layers and attention matmuls"),
            ("FLOPs", report.flops, "= 2 x MACs"),
            ("other ops", report.other_ops, "norms, activations, pooling, merges: one per element, not in MACs"),
            ("activations", report.activations,
             f"elements per sample, all layer outputs: {human(report.activations * size, 'B')} as "
             f"{self.dtype}, inference peak {human(report.peak_activations * size, 'B')}"),
        ]
        width = max(len(f"{value:,}") for _, value, _ in lines)
        text = [f"{label:<12} {value:>{width},}  {human(value):>9}  {note}" for label, value, note in lines]
        return [*text, f"receptive field {field_summary(rf)} (last spatial feature map)"
                + ("; * = sees global context (SE, attention)" if rf["global_context"] else "")]

    def leaves(self) -> Summary:
        """The same summary with one row per layer and no rows for the stages and blocks that hold them."""
        return replace(self, rows=[row for row in self.rows if row.leaf])

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the totals and the rows (``rows``: every key of ``LayerRow``)."""
        report = self.report
        return {"name": report.name, "input_shape": report.input_shape, "output_shapes": report.output_shapes,
                "depth": self.depth, "dtype": self.dtype, "params": report.params, "buffers": report.buffers,
                "macs": report.macs, "flops": report.flops, "other_ops": report.other_ops,
                "activations": report.activations, "peak_activations": report.peak_activations,
                "weight_bytes": report.params * DTYPE_BYTES[self.dtype],
                "rows": [row.to_dict() for row in self.rows]}

    def to_json(self) -> str:
        """``to_dict`` as one line of JSON."""
        return json.dumps(self.to_dict())

    def to_csv(self) -> str:
        """One line per row, every ``LayerRow`` field a column; shapes as ``CxHxW``, several inputs joined by ``;``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        keys = list(LayerRow.__dataclass_fields__)
        writer.writerow(keys)
        for row in self.rows:
            data = row.to_dict()
            data["input_shapes"] = ";".join(dims(s) for s in row.input_shapes)
            data["output_shape"] = dims(row.output_shape)
            data["receptive_field"] = short_field(row.receptive_field)
            writer.writerow([data[key] for key in keys])
        return out.getvalue()

    def _repr_html_(self) -> str:
        right = self._right()
        head = "".join(f"<th>{escape(h)}</th>" for h in self._header())
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{"right" if i in right else "left"}'
                             + (f';padding-left:{row.depth - 1}em' if i == 0 else "") + f'">{escape(cell)}</td>'
                             for i, cell in enumerate([row.name.rsplit(".", 1)[-1], *self._cells(row)[1:]]))
            + "</tr>" for row in self.rows)
        totals = escape("\n".join(self.totals()))
        return (f"<div><b>{escape(self._title())}</b><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                f"</table><pre>{totals}</pre></div>")


def _inputs(shapes: list[list[int]]) -> str:
    """The first input's shape, and how many more there are (a concat's branches)."""
    if not shapes:
        return ""
    return dims(shapes[0]) + (f" (+{len(shapes) - 1})" if len(shapes) > 1 else "")


def layer_op(node: Node) -> str:
    """A layer as the summary names it: ``conv 3x3/2 g=32``, ``dwconv 5x5``, ``BN``, ``SiLU``, ``MHSA h=12``
    (its channels are in the output column)."""
    attrs = node.attrs
    if node.kind == "conv":
        return op_text(node).rsplit(", ", 1)[0].replace(f" g{attrs.groups}", f" g={attrs.groups}")
    if node.kind == "linear":
        return "linear"
    if node.kind == "self_attention":
        return f"MHSA h={attrs.heads}"
    return op_text(node)


def _arguments(values: dict[str, Any]) -> str:
    return " ".join(f"{key}={_value(value)}" for key, value in values.items())


def _value(value: Any) -> str:
    text = value_text(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _block_op(block: str, args: dict[str, Any]) -> str:
    """``MBConv6 k=5 c=40 stride=2`` (the paper's name where it has one), ``bottleneck c=64``."""
    if block in PAPER_NAMES and "t" in args:
        rest = {k: v for k, v in args.items() if k != "t"}
        return f"{PAPER_NAMES[block]}{_value(args['t'])}" + (f" {_arguments(rest)}" if rest else "")
    return f"{block} {_arguments(args)}".rstrip()


def _scope_op(graph: Graph, name: str) -> str:
    stage = graph.stages.get(name)
    if stage is not None and stage.row is not None:
        values = {k: v for k, v in stage.values.items() if k != "n"}
        times = f" x{stage.repeats}" if stage.repeats > 1 else ""
        return (_block_op(stage.block or "", values) if stage.is_block else stage.block or "") + times
    call = graph.calls.get(name)
    if call is not None:
        return _block_op(call.block, dict(call.args))
    return name if stage is not None else ""


def layer_rows(graph: Graph, depth: int | None = None) -> list[LayerRow]:
    """The module tree's rows down to ``depth`` (1: the network's children; None: every layer), in network
    order; a row below the cut is counted in its ancestor's."""
    members: dict[str, list[Node]] = {}
    for node in graph:
        if node.is_input:
            continue
        parts = node.name.split(".")
        for level in range(1, min(len(parts), depth or len(parts)) + 1):
            members.setdefault(".".join(parts[:level]), []).append(node)
    total = sum(node.cost.macs for node in graph)
    rows = []
    for name, nodes in members.items():
        inside = {node.name for node in nodes}
        leaf = len(nodes) == 1 and nodes[0].name == name
        end = nodes[0] if leaf else (graph.scope_output(nodes) or nodes[-1])
        entering = list(dict.fromkeys(source for node in nodes for source in node.inputs if source not in inside))
        macs = sum(node.cost.macs for node in nodes)
        rows.append(LayerRow(
            name=name, depth=name.count(".") + 1, leaf=leaf,
            op=layer_op(end) if leaf else _scope_op(graph, name),
            input_shapes=[list(graph[source].shape) for source in entering], output_shape=list(end.shape),
            params=sum(node.cost.params for node in nodes), buffers=sum(node.cost.buffers for node in nodes),
            macs=macs, macs_percent=100 * macs / total if total else 0.0,
            other_ops=sum(node.cost.other_ops for node in nodes),
            activations=sum(numel(node.shape) for node in nodes), receptive_field=field_data(end.rf)))
    return rows


def make_summary(report: Report, depth: int | None = 3, columns: Sequence[str] | None = None,
                 dtype: str = "float32") -> Summary:
    """The summary of an analysed network (see ``archspec.summary``)."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH):
        raise SpecError(f"depth must be an integer from 1 to {MAX_DEPTH} or None (every depth), got {depth!r}")
    chosen = COLUMNS if columns is None else tuple(_column(c) for c in _names(columns, "columns"))
    kind = DTYPE_ALIASES.get(dtype, dtype) if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
    if kind not in DTYPE_BYTES:
        raise SpecError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    return Summary(report, layer_rows(report.graph, depth), chosen, depth, kind)


def _names(value: Any, what: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not all(isinstance(item, str) for item in items) or not items:
        raise SpecError(f"{what}: expected column names such as 'params,macs', got {value!r}")
    return [item.strip() for item in items]


def _column(name: str) -> str:
    column = COLUMN_ALIASES.get(name, name)
    if column not in COLUMNS:
        raise SpecError(f"columns: no column {name!r} (columns: {', '.join(COLUMNS)})")
    return column
