"""Run every benchmark: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import platform
import sys

import torch

from benchmarks import analysis_speed


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"# archspec benchmarks\n\nmachine: {platform.machine()}, {torch.get_num_threads()} threads, "
          f"python {platform.python_version()}, torch {torch.__version__}\n")
    print("## Analysis speed\n")
    analysis_speed.main(repeats=1 if quick else 5, names=["resnet50"] if quick else None)


if __name__ == "__main__":
    main()
