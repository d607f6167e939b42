"""The spec printed back as the paper's table, with computed columns: input, output, params, MACs, RF."""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from archspec.analysis.blocks import Instance, block_structure
from archspec.analysis.report import make_report
from archspec.backends.labels import MERGE_OPS
from archspec.backends.text import field_text
from archspec.errors import RenderError
from archspec.ir.graph import Graph, Node, Stage
from archspec.ops.base import pair
from archspec.spec.schema import ROW_ALIASES as ALIASES

FORMATS = ("markdown", "html", "csv")
COMPUTED = ("input", "channels", "output", "params", "MACs", "RF")
NUMERIC = ("params", "MACs")
# row fields that are not block arguments: they have columns of their own or change nothing in the network
NOT_ARGUMENTS = {"name", "when", "side", "fixed", "resolution", "block", *ALIASES["block"]}
# the papers' names for blocks whose table shows expansion and kernel in the operator (EfficientNet's Table 1)
PAPER_NAMES = {"mbconv": "MBConv", "fused_mbconv": "Fused-MBConv"}
WEIGHTED = ("conv", "linear", "self_attention", "window_attention", "partition_attention", "patch_merge")
# attention whose row the papers write as the attention alone, the MLP after it implied (Swin's Table 7)
PARTITIONED = ("window_attention", "partition_attention")


def paper_table(graph: Graph) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: stem, one row per table row as written (arguments evaluated), head; then the figures.

    ``channels`` is that of the row's last feature map (the head's is the one it pools, as in the papers).
    """
    figures = {row.name: row for row in make_report(graph).stages}
    columns: list[str] = []
    for record in graph.rows:
        columns += [key for key in record.written if key not in NOT_ARGUMENTS and key not in columns]
    instances: dict[str, list[Instance]] = {}
    members: dict[str, list[Node]] = {}
    for instance in block_structure(graph).instances:
        instances.setdefault(instance.stage, []).append(instance)
        members.setdefault(instance.stage, []).extend(instance.nodes)
    rows = []
    for stage, record in graph.stages.items():
        if stage not in figures:
            continue
        if record.row is not None:
            operator = _operator(record, instances[stage])
            cells = [value_text(record.values.get(_canonical(key))) for key in columns]
        else:  # stem and head: one summarised row each, written once
            operator = paper_words(members[stage])
            cells = ["1" if _canonical(key) == "n" else "" for key in columns]
        maps = [node.shape for node in members[stage] if len(node.shape) == 3]
        row = figures[stage]
        rows.append([stage, operator, *cells, _input(record.input_shape), str(maps[-1][0]) if maps else "",
                     "x".join(map(str, row.output_shape)), row.params, row.macs, field_text(row)])
    return ["stage", "operator", *columns, *COMPUTED], rows


def _canonical(key: str) -> str:
    return next((name for name, aliases in ALIASES.items() if key in aliases), key)


def value_text(value: Any) -> str:
    """A spec value as a table cell: ``5``, ``0.25``, ``true``, ``3x3`` for a list, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(map(value_text, value))
    return str(value)


def _input(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return f"{shape[1]}x{shape[2]}"
    return "x".join(map(str, shape))


def _operator(record: Stage, instances: list[Instance]) -> str:
    """The paper's name for a row: MBConv6, k5x5; a bracketed layer list; the block's name; a primitive's."""
    kind, values, first = record.block or "", record.values, instances[0]
    if kind in PAPER_NAMES:
        text = PAPER_NAMES[kind] + value_text(values.get("t", ""))
        return text + (f", k{values['k']}x{values['k']}" if "k" in values else "")
    if not record.is_block:
        return paper_words(first.nodes)
    layers = main_path(first)
    if not layers or _is_multi_branch(first):
        return kind
    times = f" x {values['n']}" if values["n"] > 1 else ""
    if not any(node.kind in PARTITIONED for node in layers):
        return f"[{'; '.join(_layer(node) for node in layers)}]" + times
    # Swin's Table 7 form: what only the first block has (patch merging) before the bracket, the MLPs implied
    repeated = {_relative(node, instances[-1]) for node in main_path(instances[-1])} if len(instances) > 1 else None
    before = [node for node in layers if repeated is not None and _relative(node, first) not in repeated]
    inside = [node for node in layers if node not in before and node.kind != "linear"]
    prefix = _merging(before) + "; " if before else ""
    return prefix + f"[{'; '.join(_layer(node) for node in inside)}]" + times


def _relative(node: Node, instance: Instance) -> str:
    """A node's name within its block instance."""
    return node.name.removeprefix(instance.key + ".")


def _merging(nodes: list[Node]) -> str:
    """Layers before a row's bracket in Swin's words: ``concat 2x2, 192-d`` (patch merging, then its linear)."""
    words: list[str] = []
    for node in nodes:
        if node.kind == "linear" and words and words[-1] == "concat 2x2":
            words[-1] += f", {node.attrs.out}-d"
        else:
            words.append(_layer(node))
    return "; ".join(words)


def main_path(instance: Instance) -> list[Node]:
    """The weighted layers (conv, linear, attention) on the instance's longest path to its output, in order:
    a projection shortcut or a dense connection is left out."""
    best: dict[str, list[Node]] = {}
    for node in instance.nodes:
        inner = [best[source] for source in node.inputs if source in best]
        path = max(inner, key=len) if inner else []
        best[node.name] = [*path, node] if node.kind in WEIGHTED else path
    return best[instance.output.name]


def _is_multi_branch(instance: Instance) -> bool:
    """True when a merge joins more than two tensors or concatenates two made inside the block (Inception)."""
    names = {node.name for node in instance.nodes}
    for node in instance.nodes:
        inner = sum(source in names for source in node.inputs)
        if node.kind in MERGE_OPS and (len(node.inputs) > 2 or (node.kind == "concat" and inner > 1)):
            return True
    return False


def _layer(node: Node) -> str:
    attrs = node.attrs
    if node.kind == "conv":
        kh, kw = pair(attrs.kernel)
        text = f"{kh}x{kw}, {attrs.out}"
        if attrs.groups > 1:
            text += ", dw" if attrs.groups == attrs.out else f", C={attrs.groups}"
        return text
    if node.kind == "linear":
        return f"FC, {attrs.out}"
    if node.kind == "patch_merge":
        return "concat 2x2"
    if node.kind == "window_attention":
        return f"win. sz. {attrs.window}x{attrs.window}, dim {node.shape[0]}, head {attrs.heads}"
    if node.kind == "partition_attention":
        return f"{attrs.partition} attn. {attrs.window}x{attrs.window}, dim {node.shape[0]}, head {attrs.heads}"
    return f"MHSA, {attrs.heads} heads"


def paper_words(nodes: list[Node]) -> str:
    """Stem, head or a primitive row in the papers' words: ``Conv3x3``, ``Conv1x1 & Pooling & FC``."""
    names: list[str] = []
    for node in nodes:
        name = _paper_op(node)
        if name and (not names or names[-1] != name):
            names.append(name)
    return " & ".join(names)


def _paper_op(node: Node) -> str | None:
    attrs = node.attrs
    if node.kind == "conv":
        kh, kw = pair(attrs.kernel)
        return f"Conv{kh}x{kw}"
    if node.kind in ("maxpool", "avgpool"):
        kh, kw = pair(attrs.kernel)
        return f"{'Max' if node.kind == 'maxpool' else 'Avg'}Pool{kh}x{kw}"
    if node.kind in ("global_avgpool", "adaptive_avgpool"):
        return "Pooling"
    if node.kind == "linear":
        return "FC"
    if node.kind == "self_attention":
        return "MHSA"
    if node.kind in ("patch_embed", "class_token", "pos_embedding", "select_token", "lrn", "squeeze_excite"):
        return node.label()
    return None


def render_table(header: list[str], rows: list[list[Any]], fmt: str, caption: str | None = None) -> str:
    """The table as Markdown, HTML or CSV; params and MACs get thousands separators except in CSV."""
    if fmt not in FORMATS:
        raise RenderError(f"table format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows])
        return out.getvalue()
    numeric = {header.index(name) for name in NUMERIC}
    text = [[f"{cell:,}" if i in numeric else str(cell) for i, cell in enumerate(row)] for row in rows]
    if fmt == "markdown":
        align = ["---:" if i in numeric else "---" for i in range(len(header))]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, align, *text]) + "\n"
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f'<td{" align=right" if i in numeric else ""}>{escape(cell)}</td>'
                                    for i, cell in enumerate(cells)) + "</tr>\n" for cells in text)
    title = f"<caption>{escape(caption)}</caption>\n" if caption else ""
    return f"<table>\n{title}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def table(graph: Graph, fmt: str = "markdown") -> str:
    """The network's paper table in ``fmt`` (markdown, html or csv); in markdown and HTML, the variables the spec
    sets to numbers after it (a design space's parameters, from which the rows derive)."""
    about = graph.about
    paper = about.paper
    caption = f"{graph.name}: {paper.title} ({paper.year}), {paper.table}" if paper and paper.table else graph.name
    numbers = ", ".join(f"{name} = {value_text(value)}" for name, value in about.parameters.items())
    if numbers and fmt == "html":
        caption += f"; variables: {numbers}"
    text = render_table(*paper_table(graph), fmt, caption)
    return text + f"\nVariables: {numbers}.\n" if numbers and fmt == "markdown" else text
