"""Each benchmark runs once on a tiny input (no timing assertions: figures go to docs/performance.md)."""

from __future__ import annotations

from benchmarks import analysis_speed, build_time, growth, module_speed


def test_analysis_speed_runs() -> None:
    assert "| resnet50 |" in analysis_speed.run(["resnet50"], repeats=1)


def test_module_speed_runs() -> None:
    text = module_speed.run(["mobilenet_v2"], repeats=1, compile_names=[], image_size=32, batches=(1, 2, 2))
    assert "inference, batch 1, eager" in text and "training step" in text and "MiB" in text


def test_build_time_runs() -> None:
    assert "| mobilenet_v2 |" in build_time.run(["mobilenet_v2"], repeats=1)


def test_growth_runs() -> None:
    assert "us per node" in growth.run((4, 8), repeats=1)
