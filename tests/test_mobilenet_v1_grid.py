"""MobileNet v1's width and resolution grid (Howard et al., 2017, Tables 6 and 7) from one spec with overrides.

The paper's convention: mult-adds of every convolution and of the FC layer (its Table 2 gives the FC 0.18% of
them), in millions rounded to the nearest integer; parameters of the convolutions and the FC weights, without
batch norm and biases (Table 2's shares add up to 100% without them), in millions to one decimal.
Table 7 (resolutions) appears to scale the 224 figure by (r/224)^2 as a whole, although the FC's 1.02M
mult-adds do not shrink with the resolution: at 160 the exact count is 290.7M against the paper's 290.
"""

from __future__ import annotations

import pytest

import archspec
from tests.library import SPECS

SPEC = SPECS / "mobilenet_v1.yaml"

# (width multiplier alpha, resolution, ImageNet top-1 %, million mult-adds, million parameters)
TABLE_6 = [  # width multiplier at 224
    (1.0, 224, 70.6, 569, 4.2),
    (0.75, 224, 68.4, 325, 2.6),
    (0.5, 224, 63.7, 149, 1.3),
    (0.25, 224, 50.6, 41, 0.5),
]
TABLE_7 = [  # resolution at width 1.0
    (1.0, 224, 70.6, 569, 4.2),
    (1.0, 192, 69.1, 418, 4.2),
    (1.0, 160, 67.2, 290, 4.2),
    (1.0, 128, 64.4, 186, 4.2),
]


def _counts(width_mult: float, image_size: int) -> tuple[int, int, int]:
    """(MACs, params as archspec counts them, params as the paper counts them)."""
    spec = archspec.load(SPEC, image_size=image_size, variables={"width_mult": width_mult})
    report = spec.analyze()
    paper_params = 0
    for node in spec.graph:
        if node.op is not None and node.op.name == "conv":
            paper_params += node.cost.params
        elif node.op is not None and node.op.name == "linear":
            paper_params += node.cost.params - node.shape[-1]  # weights only
    return report.macs, report.params, paper_params


@pytest.mark.parametrize(("width_mult", "image_size", "top1", "macs_m", "params_m"), TABLE_6)
def test_width_multiplier_matches_table_6(width_mult, image_size, top1, macs_m, params_m) -> None:
    macs, params, paper_params = _counts(width_mult, image_size)
    assert round(macs / 1e6) == macs_m
    assert round(paper_params / 1e6, 1) == params_m
    assert round(params / 1e6, 1) == params_m  # batch norm and the FC bias do not change the rounded figure


@pytest.mark.parametrize(("width_mult", "image_size", "top1", "macs_m", "params_m"), TABLE_7)
def test_resolution_matches_table_7(width_mult, image_size, top1, macs_m, params_m) -> None:
    macs, params, paper_params = _counts(width_mult, image_size)
    macs_224, _, _ = _counts(width_mult, 224)
    assert round(macs_224 * (image_size / 224) ** 2 / 1e6) == macs_m  # how the paper derives the row
    assert abs(macs - macs_m * 1e6) < 1e6  # the exact count: within one unit of the paper's rounding
    assert round(paper_params / 1e6, 1) == params_m
    assert round(params / 1e6, 1) == params_m


def test_width_multiplier_rounds_channels_down() -> None:
    """alpha * channels is an integer for every width of the paper: int() and make_divisible(., 8) agree."""
    spec = archspec.load(SPEC, variables={"width_mult": 0.25})
    convs = [node for node in spec.graph if node.op is not None and node.op.name == "conv"]
    assert [node.shape[0] for node in convs[:3]] == [8, 8, 16]
    assert convs[-1].shape[0] == 256
