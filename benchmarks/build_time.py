"""Build time: YAML -> nn.Module against the torchvision constructor, with and without initialisation."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import archspec
from archspec.backends.torch_module import to_module
from archspec.reference import reference_model
from benchmarks.timing import SPECS, interleaved, load, markdown

NETWORKS = ["resnet50", "efficientnet_b0", "densenet121", "mobilenet_v2", "vit_b_16"]


def _build(path: Path, initialise: bool) -> object:
    return to_module(archspec.load(path).graph, initialise=initialise)


def run(names: list[str] | None = None, repeats: int = 5) -> str:
    """Table of build times: ours with PyTorch's initialisation, ours on the meta device, the constructor."""
    rows = []
    for name in names or NETWORKS:
        print(f"  build: {name}", file=sys.stderr, flush=True)
        path, spec = SPECS / f"{name}.yaml", load(name)
        full = interleaved(partial(_build, path, True), partial(reference_model, spec), repeats)
        fast = interleaved(partial(_build, path, False), partial(reference_model, spec), repeats)
        rows.append([name, full.cells()[0], fast.cells()[0], full.cells()[1], f"{full.ratio:.2f}",
                     f"{fast.ratio:.2f}"])
    return markdown(["network", "archspec YAML -> module, ms", "archspec, no init (meta device), ms",
                     "torchvision constructor, ms", "ratio", "ratio, no init"], rows) + (
        "\n\narchspec's figure starts from the YAML file: it includes reading and validating it, the whole analysis "
        "(the memory check before allocating needs it) and generating the forward's Python code with torch.fx. For "
        "small networks those milliseconds exceed torchvision's constructor; for large ones the initialisation of "
        "the parameters dominates both, and the meta-device path, for weights that will be loaded anyway, skips it.")
