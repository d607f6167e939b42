"""Analysis speed: archspec (load + analyse, no tensors) against FlopCounterMode on the torchvision twin
(construct + one traced forward), interleaved repetitions, medians and min-max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import archspec

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ["resnet50", "efficientnet_b0", "googlenet", "densenet121", "vit_b_16"]
TWIN_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False}}


def _archspec(name: str) -> Callable[[], int]:
    def run() -> int:
        return archspec.load(ROOT / "specs" / f"{name}.yaml").analyze().macs

    return run


def _flop_counter(name: str) -> Callable[[], int]:
    def run() -> int:
        model = getattr(torchvision.models, name)(weights=None, **TWIN_KWARGS.get(name, {})).eval()
        counter = FlopCounterMode(display=False)
        size = 224
        with counter, torch.no_grad():
            model(torch.randn(1, 3, size, size))
        return counter.get_total_flops() // 2

    return run


def _time(function: Callable[[], int]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(names: list[str], repeats: int) -> list[dict[str, float | str]]:
    """Interleave both measurements ``repeats`` times per network; return medians and ranges."""
    rows = []
    for name in names:
        ours, theirs = [], []
        _archspec(name)()  # warm caches and imports for both sides once
        _flop_counter(name)()
        for _ in range(repeats):
            ours.append(_time(_archspec(name)))
            theirs.append(_time(_flop_counter(name)))
        rows.append({
            "network": name,
            "archspec_ms": statistics.median(ours) * 1e3,
            "archspec_range": f"{min(ours) * 1e3:.1f}-{max(ours) * 1e3:.1f}",
            "flopcounter_ms": statistics.median(theirs) * 1e3,
            "flopcounter_range": f"{min(theirs) * 1e3:.0f}-{max(theirs) * 1e3:.0f}",
            "ratio": statistics.median(theirs) / statistics.median(ours),
        })
    return rows


def render(rows: list[dict[str, float | str]]) -> str:
    """A markdown table of the measurements."""
    lines = ["| network | archspec load+analyse ms (min-max) | torchvision build + FlopCounterMode ms (min-max) "
             "| speed-up |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['archspec_ms']:.1f} ({r['archspec_range']}) | "
                     f"{r['flopcounter_ms']:.0f} ({r['flopcounter_range']}) | {r['ratio']:.0f}x |")
    total_ours = sum(float(r["archspec_ms"]) for r in rows)
    lines.append(f"\nall {len(rows)} analysed in {total_ours:.0f} ms in total (sum of medians)")
    return "\n".join(lines)


def main(repeats: int = 5, names: list[str] | None = None) -> str:
    """Run and print the analysis-speed benchmark."""
    torch.set_num_threads(2)
    text = render(measure(names or NETWORKS, repeats))
    print(text)
    return text
