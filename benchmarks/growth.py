"""Growth: analysis time against network size, for generated ResNet-style specs up to 10,000 blocks."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

import archspec
from benchmarks.timing import markdown

BLOCK = {"doc": "basic residual block", "params": {"c": None},
         "body": [{"residual": [{"op": "conv", "out": "$c", "kernel": 3, "bias": False}, {"op": "batchnorm"},
                                {"op": "relu"}, {"op": "conv", "out": "$c", "kernel": 3, "bias": False},
                                {"op": "batchnorm"}]}, {"op": "relu"}]}


def spec_text(blocks: int) -> str:
    """A ResNet-style spec: a stem, then ``blocks`` basic blocks of 64 channels at 56x56."""
    return yaml.safe_dump({"name": f"resnet_{blocks}", "input": {"channels": 3, "resolution": 224},
                           "variables": {"num_classes": 1000}, "blocks": {"basic": BLOCK},
                           "stem": [{"op": "conv", "out": 64, "kernel": 7, "stride": 2, "bias": False},
                                    {"op": "batchnorm"}, {"op": "relu"},
                                    {"op": "maxpool", "kernel": 3, "stride": 2, "padding": 1}],
                           "stages": [{"name": "layer", "block": "basic", "c": 64, "n": blocks}],
                           "head": [{"op": "global_avgpool"}, {"op": "flatten"},
                                    {"op": "linear", "out": "$num_classes"}]}, sort_keys=False)


def run(sizes: tuple[int, ...] = (10, 100, 1000, 10000), repeats: int = 3) -> str:
    """Table of analysis time and microseconds per node."""
    rows, per_node = [], []
    with tempfile.TemporaryDirectory() as folder:
        for blocks in sizes:
            print(f"  growth: {blocks} blocks", file=sys.stderr, flush=True)
            path = Path(folder) / f"g{blocks}.yaml"
            path.write_text(spec_text(blocks))
            times, nodes = [], 0
            for _ in range(repeats):
                start = time.perf_counter()
                spec = archspec.load(path)
                spec.analyze()
                times.append(time.perf_counter() - start)
                nodes = len(spec.graph)
            median = statistics.median(times)
            per_node.append(median / nodes * 1e6)
            rows.append([str(blocks), f"{nodes:,}", f"{median * 1e3:.1f}", f"{per_node[-1]:.1f}"])
    return (markdown(["blocks", "nodes", "load + analyse, ms (median)", "us per node"], rows)
            + f"\n\nTime per node stays within {min(per_node):.1f}-{max(per_node):.1f} us from "
              f"{sizes[0]} to {sizes[-1]} blocks: linear growth.")
