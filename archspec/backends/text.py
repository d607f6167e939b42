"""Plain-text rendering of a Report: the per-stage summary, the library overview and comparison, the search table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.analysis.report import BYTES_PER_ELEMENT, Report, Row


def human(value: float, unit: str = "", digits: int = 3) -> str:
    """1234567 -> '1.235 M' (``digits`` decimals): the one way every view writes a count or a size, in the unit
    (K, M, G, T) that keeps it readable: LeNet-5's MACs are 429.144 K, not 0.000 G."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= threshold:
            return f"{value / threshold:.{digits}f} {suffix}{unit}"
    return f"{value:g} {unit}".rstrip()


def exact(value: int) -> str:
    """A count exactly and readably: ``17,447,454,720 (17.447 G)``."""
    return f"{value:,} ({human(value)})" if abs(value) >= 1000 else f"{value:,}"


def dims(shape: Sequence[int]) -> str:
    """``[64, 56, 56]`` -> ``64x56x56``."""
    return "x".join(map(str, shape))


def field_text(row: Row) -> str:
    """A row's receptive field in short (see ``short_field``)."""
    return short_field(row.receptive_field)


def short_field(rf: dict[str, Any]) -> str:
    """A receptive field in short: `35`, `35x43`, `global`; `*` marks global context (SE, attention)."""
    if rf.get("global"):
        return "global"
    size = rf["size"]
    text = str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
    return text + ("*" if rf["global_context"] else "")


def field_summary(rf: dict[str, Any]) -> str:
    """The headline receptive field in words: ``435 px, stride 32, padding 217`` (``HxW`` when not square);
    ``global (...)`` where attention lets every position see the whole image."""
    size, stride, pad = rf["size"], rf["stride"], rf["padding"]
    if rf["global"]:
        strides = str(stride[0]) if stride[0] == stride[1] else dims(stride)
        return f"global: every position sees the whole image (attention), stride {strides}"
    if size[0] == size[1] and stride[0] == stride[1] and pad[0] == pad[1]:
        return f"{size[0]} px, stride {stride[0]}, padding {pad[0]}"
    return f"{dims(size)} px, stride {dims(stride)}, padding {dims(pad)}"


def aligned(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """A plain-text table: the header, a rule and the rows, columns padded (the ``right`` ones right-aligned)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def summary(report: Report) -> str:
    """The per-stage table followed by the totals."""
    header = ["stage", "output", "params", "MACs", "RF"]
    rows = [[r.name, dims(r.output_shape), f"{r.params:,}", f"{r.macs:,}", field_text(r)] for r in report.stages]
    right = {2, 3, 4}
    rf = report.receptive_field
    lines = [f"{report.name}: input {dims(report.input_shape)} -> output "
             + ", ".join(dims(s) for s in report.output_shapes), ""]
    lines += aligned(header, rows, right)
    lines += [
        "",
        f"params       {report.params:>16,}  ({human(report.params)})   trainable",
        f"buffers      {report.buffers:>16,}  ({human(report.buffers)})   BN running stats etc.",
        f"MACs         {report.macs:>16,}  ({human(report.macs)})   conv + linear + attention matmuls",
        f"FLOPs        {report.flops:>16,}  ({human(report.flops)})   = 2 x MACs",
        f"other ops    {report.other_ops:>16,}  ({human(report.other_ops)})   norms, activations, pooling, merges",
        f"activations  {report.activations:>16,}  ({human(report.activation_bytes, 'B')} fp32, "
        f"peak {human(report.peak_activations * BYTES_PER_ELEMENT, 'B')}) per sample",
        f"receptive field {field_summary(rf)} (last spatial feature map)"
        + ("; * = sees global context (SE/attention)" if rf["global_context"] else ""),
    ]
    return "\n".join(lines)


def entry(report: Report) -> dict[str, Any]:
    """One network's headline figures, for ``list`` and ``compare``."""
    about = report.graph.about
    reported, paper = about.reported, about.paper
    accuracy = reported is not None and reported.top1 is not None
    measured_at = reported.resolution if reported is not None else None
    return {
        "name": report.name,
        "input": dims(report.input_shape),
        "classes": report.output_shape[-1],
        "params": report.params,
        "macs": report.macs,
        "flops": report.flops,
        "activations": report.activations,
        "receptive_field": report.receptive_field["size"][0],
        "rf_global": report.receptive_field["global"],
        "rf_stride": report.receptive_field["stride"][0],
        "top1": reported.top1 if reported else None,
        "top5": reported.top5 if reported else None,
        "source": reported.source if reported and reported.top1 is not None else None,
        # the accuracies' own dataset and input size, which an --image-size override does not change
        "dataset": reported.dataset if reported is not None and accuracy else None,
        "accuracy_input": pixels(measured_at or tuple(report.input_shape[1:])) if accuracy else None,
        "accuracy_at_input": accuracy and measured_at in (None, *_sizes(tuple(report.input_shape))),
        "paper": f"{paper.title} ({paper.year})" if paper else None,
    }


def _sizes(shape: tuple[int, ...]) -> tuple[Any, ...]:
    """The ways a spec may write the resolution of a (C, H, W) input: ``H`` if square, ``(H, W)``."""
    return ((shape[1],) if shape[1] == shape[2] else ()) + ((shape[1], shape[2]),)


def pixels(resolution: int | tuple[int, ...]) -> str:
    """``224 px``, or ``256x320 px`` for a non-square input."""
    sides = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
    return f"{sides[0]} px" if sides[0] == sides[1] else f"{sides[0]}x{sides[1]} px"


def accuracy(e: dict[str, Any], key: str = "top1") -> str:
    """A reported accuracy of an ``entry`` with its dataset and input size: ``69.76 (ImageNet-1k, 224 px)``."""
    return f"{e[key]:.2f} ({e['dataset']}, {e['accuracy_input']})" if e[key] is not None else "-"


def overview(entries: list[dict[str, Any]]) -> str:
    """One row per network: params, MACs, receptive field, reported top-1 and its source."""
    header = ["network", "input", "params", "MACs", "RF", "top-1", "source of top-1"]
    rows = [[e["name"], e["input"], human(e["params"]), human(e["macs"]), _field_cell(e),
             accuracy(e), e["source"] or ""] for e in entries]
    return "\n".join(aligned(header, rows, {2, 3, 4, 5}))


def _field_cell(e: dict[str, Any], unit: str = "") -> str:
    return "global" if e["rf_global"] else f"{e['receptive_field']}{unit}"


def side_by_side(entries: list[dict[str, Any]]) -> str:
    """One column per network, one row per figure."""
    fields = [("input", lambda e: e["input"]), ("params", lambda e: exact(e["params"])),
              ("MACs", lambda e: exact(e["macs"])), ("FLOPs (2 x MACs)", lambda e: exact(e["flops"])),
              ("activations / sample", lambda e: exact(e["activations"])),
              ("receptive field", lambda e: f"{_field_cell(e, ' px')} / stride {e['rf_stride']}"),
              ("top-1 (reported)", accuracy), ("top-5 (reported)", lambda e: accuracy(e, "top5"))]
    header = ["", *(e["name"] for e in entries)]
    rows = [[label, *(get(e) for e in entries)] for label, get in fields]
    return "\n".join(aligned(header, rows, set(range(1, len(header)))))


def search_table(results: list[dict[str, Any]], target: float) -> str:
    """Candidates of the compound-coefficient search, best first."""
    header = ["alpha", "beta", "gamma", "a*b^2*g^2", "params", "MACs", f"MACs ratio (target {target:g})", "score",
              "same network"]
    rows = [[f"{r['alpha']:.2f}", f"{r['beta']:.2f}", f"{r['gamma']:.2f}", f"{r['product']:.3f}",
             human(r["params"]), human(r["macs"]), f"{r['macs_ratio']:.3f}",
             "" if r["score"] is None else f"{r['score']:g}",
             f"+{len(r['same_network'])} more" if r.get("same_network") else ""] for r in results]
    return "\n".join(aligned(header, rows, set(range(len(header)))))
