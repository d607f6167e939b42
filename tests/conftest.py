"""Shared fixtures: the library's reference table and helpers to write temporary specs."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@dataclass(frozen=True)
class Twin:
    """A spec and its torchvision twin: constructor, arguments, weights enum (for the published figures)."""

    spec: str
    builder: str
    weights: str
    kwargs: dict[str, Any] = field(default_factory=dict)


TORCHVISION_TWINS = [
    Twin("resnet50", "resnet50", "ResNet50_Weights"),
    Twin("efficientnet_b0", "efficientnet_b0", "EfficientNet_B0_Weights"),
    Twin("googlenet", "googlenet", "GoogLeNet_Weights", {"aux_logits": False, "init_weights": False}),
    Twin("densenet121", "densenet121", "DenseNet121_Weights"),
    Twin("vit_b_16", "vit_b_16", "ViT_B_16_Weights"),
]


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write YAML text (dedented) to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write
