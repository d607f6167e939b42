"""The benchmarks run once on a tiny input (no timing assertions)."""

from __future__ import annotations

from benchmarks import analysis_speed


def test_analysis_speed_benchmark_runs_once() -> None:
    text = analysis_speed.main(repeats=1, names=["resnet50"])
    assert "| resnet50 |" in text
