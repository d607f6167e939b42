"""The accuracy-vs-cost chart: reported ImageNet top-1 against MACs and against params, one labelled point each."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archspec.errors import RenderError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.transforms import Bbox

FORMATS = ("png", "svg", "pdf")
IMAGENET_CLASSES = 1000
# label positions tried around a point, in points: (dx, dy, horizontal alignment)
OFFSETS = ((4, 3, "left"), (4, -9, "left"), (-4, 3, "right"), (-4, -9, "right"), (0, 7, "center"),
           (0, -14, "center"), (8, 10, "left"), (-8, 10, "right"), (8, -16, "left"), (-8, -16, "right"))


@dataclass(frozen=True)
class Chart:
    """The rendered chart, the networks on it, and those left out with the reason."""

    data: bytes
    plotted: list[str]
    skipped: dict[str, str]


def accuracy_chart(entries: list[dict[str, Any]], fmt: str = "png") -> Chart:
    """Two panels, top-1 vs GMACs and top-1 vs params (log x), from ``text.entry`` dictionaries."""
    if fmt not in FORMATS:
        raise RenderError(f"chart format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        from matplotlib import rc_context
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RenderError("the chart needs matplotlib (pip install matplotlib)") from None
    skipped = {e["name"]: "no reported top-1" for e in entries if e["top1"] is None}
    skipped |= {e["name"]: f"top-1 on {e['dataset']}, not ImageNet-1k" for e in entries
                if e["top1"] is not None and e["dataset"] != "ImageNet-1k"}
    skipped |= {e["name"]: f"{e['classes']} classes, not ImageNet-1k's" for e in entries
                if e["name"] not in skipped and e["classes"] != IMAGENET_CLASSES}
    skipped |= {e["name"]: f"top-1 measured at {e['accuracy_input']}, analysed at {e['input']}" for e in entries
                if e["name"] not in skipped and not e["accuracy_at_input"]}
    shown = sorted((e for e in entries if e["name"] not in skipped), key=lambda e: e["macs"])
    if not shown:
        reasons = ", ".join(f"{name} ({why})" for name, why in sorted(skipped.items()))
        raise RenderError(f"none of the networks has a reported ImageNet top-1 to plot: {reasons}")
    figure = Figure(figsize=(14, 7), layout="constrained")
    canvas = FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2, sharey=True)
    for axes, key, scale, label in ((panels[0], "macs", 1e9, "GMACs (multiply-accumulates per image)"),
                                    (panels[1], "params", 1e6, "parameters (millions)")):
        axes.scatter([e[key] / scale for e in shown], [e["top1"] for e in shown], s=22, color="#1f77b4", zorder=3)
        axes.set_xscale("log")
        axes.set_xlabel(label)
        axes.grid(True, which="both", alpha=0.3)
        axes.margins(x=0.08, y=0.05)
    panels[0].set_ylabel("ImageNet top-1 (%, as reported)")
    figure.suptitle("Reported ImageNet top-1 against cost")
    if skipped:
        note = "; ".join(f"{name} ({why})" for name, why in sorted(skipped.items()))
        figure.supxlabel(f"not plotted: {note}", fontsize=7, wrap=True)
    canvas.draw()  # fixes the axes' limits, so that label extents are final
    for axes, key, scale in ((panels[0], "macs", 1e9), (panels[1], "params", 1e6)):
        _label_points(axes, canvas.get_renderer(), [(e[key] / scale, e["top1"], e["name"]) for e in shown])
    out = io.BytesIO()
    with rc_context({"svg.fonttype": "none"}):  # text stays text in SVG: searchable, and smaller
        figure.savefig(out, format=fmt, dpi=120)
    return Chart(out.getvalue(), [e["name"] for e in shown], skipped)


def _label_points(axes: Axes, renderer: RendererBase, points: list[tuple[float, float, str]]) -> None:
    """Name each point, trying positions around it until the label overlaps no label placed before it."""
    placed: list[Bbox] = []
    for x, y, name in points:
        best = None
        for dx, dy, align in OFFSETS:
            text = axes.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7, ha=align)
            box = text.get_window_extent(renderer)
            overlap = sum(_overlap(box, other) for other in placed)
            if best is None or overlap < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlap, text, box)
            else:
                text.remove()
            if overlap == 0:
                break
        assert best is not None
        placed.append(best[2])


def _overlap(a: Bbox, b: Bbox) -> float:
    """Area shared by two display-space boxes."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, width) * max(0.0, height)
