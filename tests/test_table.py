"""The paper tables printed back from the specs, checked against the papers' own rows."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest

from archspec.cli import main
from tests.library import SPECS, load


def table(capsys, name: str, fmt: str = "csv") -> str:
    """``archspec table`` output for a library spec."""
    assert main(["table", str(SPECS / f"{name}.yaml"), "--format", fmt]) == 0
    return capsys.readouterr().out


def rows(capsys, name: str) -> list[dict[str, str]]:
    """The CSV table as one dictionary per row."""
    return list(csv.DictReader(io.StringIO(table(capsys, name))))


def test_efficientnet_b0_reproduces_table_1(capsys) -> None:
    # Tan & Le 2019, Table 1: operator, resolution, #channels, #layers of stages 1-9
    paper = [
        ("Conv3x3", 224, 32, 1),
        ("MBConv1, k3x3", 112, 16, 1),
        ("MBConv6, k3x3", 112, 24, 2),
        ("MBConv6, k5x5", 56, 40, 2),
        ("MBConv6, k3x3", 28, 80, 3),
        ("MBConv6, k5x5", 14, 112, 3),
        ("MBConv6, k5x5", 14, 192, 4),
        ("MBConv6, k3x3", 7, 320, 1),
        ("Conv1x1 & Pooling & FC", 7, 1280, 1),
    ]
    ours = [(r["operator"], int(r["input"].split("x")[0]), int(r["channels"]), int(r["n"]))
            for r in rows(capsys, "efficientnet_b0")]
    assert ours == paper


def test_mobilenet_v2_reproduces_table_2(capsys) -> None:
    if not (SPECS / "mobilenet_v2.yaml").exists():
        pytest.skip("specs/mobilenet_v2.yaml is not written yet")
    # Sandler et al. 2018, Table 2: the bottleneck rows' t, c, n, s
    paper = {"t": [1, 6, 6, 6, 6, 6, 6], "c": [16, 24, 32, 64, 96, 160, 320], "n": [1, 2, 3, 4, 3, 3, 1],
             "s": [1, 2, 2, 2, 1, 2, 1]}
    bottlenecks = [r for r in rows(capsys, "mobilenet_v2") if r["stage"] not in ("stem", "head")]
    assert {key: [int(r[key]) for r in bottlenecks] for key in paper} == paper


def test_resnet50_shows_the_bracketed_blocks(capsys) -> None:
    # He et al. 2016, Table 1, 50-layer column: conv2_x .. conv5_x
    paper = ["[1x1, 64; 3x3, 64; 1x1, 256] x 3", "[1x1, 128; 3x3, 128; 1x1, 512] x 4",
             "[1x1, 256; 3x3, 256; 1x1, 1024] x 6", "[1x1, 512; 3x3, 512; 1x1, 2048] x 3"]
    table_rows = rows(capsys, "resnet50")
    assert [r["operator"] for r in table_rows[1:-1]] == paper
    assert [r["output"] for r in table_rows[1:-1]] == ["256x56x56", "512x28x28", "1024x14x14", "2048x7x7"]


def test_swin_t_reproduces_table_7(capsys) -> None:
    """Liu et al. 2021, Table 7, Swin-T column: stages 2-4 merge patches to 2C first, then blocks of window
    attention (the MLP implied), at 56, 28, 14 and 7 px."""
    paper = ["[win. sz. 7x7, dim 96, head 3] x 2",
             "concat 2x2, 192-d; [win. sz. 7x7, dim 192, head 6] x 2",
             "concat 2x2, 384-d; [win. sz. 7x7, dim 384, head 12] x 6",
             "concat 2x2, 768-d; [win. sz. 7x7, dim 768, head 24] x 2"]
    table_rows = rows(capsys, "swin_t")
    assert [r["operator"] for r in table_rows[1:-1]] == paper
    assert [r["output"] for r in table_rows[1:-1]] == ["96x56x56", "192x28x28", "384x14x14", "768x7x7"]


def test_regnet_shows_its_design_space_parameters(capsys) -> None:
    """RegNetY-400MF (Radosavovic et al. 2020, Appendix C / pycls's RegNetY-400MF config): d 16, w0 48, wa 27.89,
    wm 2.09, g 8, below the rows they derive; a --set reaches them; CSV stays one table."""
    text = table(capsys, "regnet_y_400mf", "markdown")
    assert text.endswith("\nVariables: d = 16, w0 = 48, wa = 27.89, wm = 2.09, g = 8, b = 1, se_ratio = 0.25.\n")
    assert "variables: d = 16, w0 = 48" in table(capsys, "regnet_y_400mf", "html")
    assert main(["table", str(SPECS / "regnet_y_400mf.yaml"), "--set", "wa=35.73"]) == 0
    assert "wa = 35.73," in capsys.readouterr().out
    assert "Variables" not in table(capsys, "regnet_y_400mf", "csv")


def test_googlenet_keeps_the_written_columns_in_order(capsys) -> None:
    table_rows = rows(capsys, "googlenet")
    header = list(table_rows[0])
    # Szegedy et al. 2015, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj of inception (3a)
    written = ["c1x1", "c3x3_reduce", "c3x3", "c5x5_reduce", "c5x5", "pool_proj"]
    assert header[2:8] == written
    inception3a = next(r for r in table_rows if r["stage"] == "inception3a")
    assert [int(inception3a[key]) for key in written] == [64, 96, 128, 16, 32, 32]
    assert inception3a["operator"] == "inception"  # four branches: no single bracketed path


def test_computed_columns_add_up_to_the_report(capsys) -> None:
    table_rows = rows(capsys, "densenet121")  # torchvision's: 7,978,856 parameters, 2.834 GMACs (weights' _ops)
    assert sum(int(r["params"]) for r in table_rows) == 7_978_856
    assert round(sum(int(r["MACs"]) for r in table_rows) / 1e9, 3) == 2.834
    assert table_rows[-1]["RF"] == "global"
    assert next(r for r in table_rows if r["stage"] == "dense_block1")["operator"] == "[1x1, 128; 3x3, 32] x 6"


def test_markdown_and_html(capsys) -> None:
    markdown = table(capsys, "resnet18", "markdown").splitlines()
    assert markdown[0].startswith("| stage | operator |") and markdown[1].startswith("| --- |")
    assert len(markdown) == 2 + len(load("resnet18").graph.stages)
    assert all(line.count("|") == markdown[0].count("|") for line in markdown)

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[int] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "tr":
                self.rows.append(0)
            elif tag in ("td", "th"):
                self.rows[-1] += 1

    parser = Cells()
    parser.feed(table(capsys, "resnet18", "html"))
    assert len(parser.rows) == 1 + len(load("resnet18").graph.stages)
    assert len(set(parser.rows)) == 1


def test_overrides_reach_the_table(capsys) -> None:
    assert main(["table", str(SPECS / "mobilenet_v2.yaml"), "--format", "csv", "--set", "width_mult=0.5"]) == 0
    table_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["c"]) for r in table_rows[1:-1]] == [8, 16, 16, 32, 48, 80, 160]
