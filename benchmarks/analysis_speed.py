"""Analysis speed: archspec (load + analyse, no tensors) against FlopCounterMode on the torchvision/timm twin
(construct + one traced forward at the spec's resolution), for every library spec with a twin."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

import archspec
from benchmarks.timing import interleaved, markdown
from tests.library import LIBRARY, SPECS, load, reference_model


def _ours(name: str) -> Callable[[], int]:
    return lambda: archspec.load(SPECS / f"{name}.yaml").analyze().macs


def _flop_counter(spec: archspec.Spec) -> Callable[[], int]:
    shape = spec.analyze().input_shape

    def run() -> int:
        model = reference_model(spec)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.randn(1, *shape))
        return counter.get_total_flops() // 2

    return run


def run(names: list[str] | None = None, repeats: int = 2) -> str:
    """The table for the given twins (default: every library spec with a twin) and the whole-library total."""
    twins = names or [n for n in LIBRARY if load(n).network.reference is not None]
    _ours(twins[0])()  # imports and caches warm once for both sides, not per network
    _flop_counter(load(twins[0]))()
    rows, ratios = [], []
    for name in twins:
        print(f"  analysis: {name}", file=sys.stderr, flush=True)
        pair = interleaved(_ours(name), _flop_counter(load(name)), repeats, warmup=0)
        ratios.append(1 / pair.ratio)
        rows.append([name, *pair.cells(), f"{1 / pair.ratio:.0f}x"])
    table = markdown(["network", "archspec load + analyse, ms (min-max)",
                      "twin build + FlopCounterMode, ms (min-max)", "speed-up"], rows)
    totals = []
    for _ in range(5):
        start = time.perf_counter()
        for name in LIBRARY:
            archspec.load(SPECS / f"{name}.yaml").analyze()
        totals.append(time.perf_counter() - start)
    return (f"{table}\n\nSpeed-up: median {statistics.median(ratios):.0f}x, lowest {min(ratios):.0f}x "
            f"({twins[ratios.index(min(ratios))]}).\n\nThe whole library ({len(LIBRARY)} specs) loads and "
            f"analyses in {statistics.median(totals) * 1e3:.0f} ms (median of 5; min {min(totals) * 1e3:.0f}).")
