"""Run every benchmark and write docs/performance.md: ``python -m benchmarks [--quick]`` (``make bench``)."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks import analysis_speed, build_time, growth, module_speed

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def main() -> None:
    """Run all benchmarks (``--quick``: one tiny round of each) and write the report."""
    quick = "--quick" in sys.argv
    torch.set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    sections = [
        ("Analysis speed against tracing counters", analysis_speed.run(["resnet50"], 1) if quick
         else analysis_speed.run()),
        ("Compiled module against the hand-written reference",
         module_speed.run(["mobilenet_v2"], 1, [], 32, (1, 2, 2)) if quick else module_speed.run()),
        ("Build time", build_time.run(["mobilenet_v2"], 1) if quick else build_time.run()),
        ("Growth", growth.run((10, 100), 1) if quick else growth.run()),
    ]
    elapsed = time.perf_counter() - start
    header = (f"# Performance\n\nMeasured {datetime.date.today()} with `make bench` (`python -m benchmarks`) in "
              f"{elapsed / 60:.1f} minutes on {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU only. "
              "Each figure is a median over interleaved repetitions (ours and the reference alternate), with "
              "min-max in brackets. Ratios are ours / reference unless labelled as a speed-up.\n")
    text = header + "".join(f"\n## {title}\n\n{body}\n" for title, body in sections)
    print(text)
    if not quick:
        OUTPUT.write_text(text)


if __name__ == "__main__":
    main()
