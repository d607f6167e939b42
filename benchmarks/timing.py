"""Measuring two implementations side by side: interleaved repetitions, medians and ranges."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import archspec
from archspec.library import library_files
from archspec.spec.load import SHIPPED_LIBRARY as SPECS

LIBRARY = [path.stem for path in library_files(SPECS)]


@cache
def load(name: str) -> archspec.Spec:
    """A library spec by name, loaded once per run."""
    return archspec.load(SPECS / f"{name}.yaml")


@dataclass(frozen=True)
class Pair:
    """Timings of ours and the reference, in seconds, from interleaved repetitions."""

    ours: list[float]
    reference: list[float]

    @property
    def ratio(self) -> float:
        """Median of ours over median of the reference (below 1: we are faster)."""
        return statistics.median(self.ours) / statistics.median(self.reference)

    def cells(self, unit: float = 1e3, digits: int = 1) -> list[str]:
        """Median (min-max) of both, in milliseconds by default."""
        def one(values: list[float]) -> str:
            return (f"{statistics.median(values) * unit:.{digits}f} "
                    f"({min(values) * unit:.{digits}f}-{max(values) * unit:.{digits}f})")

        return [one(self.ours), one(self.reference)]


def seconds(function: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(ours: Callable[[], object], reference: Callable[[], object], repeats: int,
                warmup: int = 1) -> Pair:
    """Alternate the two calls ``repeats`` times after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        ours()
        reference()
    a, b = [], []
    for i in range(repeats):
        if i % 2:  # alternate which goes first, so neither always runs on a warmer cache
            b.append(seconds(reference))
            a.append(seconds(ours))
        else:
            a.append(seconds(ours))
            b.append(seconds(reference))
    return Pair(a, b)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
