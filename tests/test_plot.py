"""The accuracy-vs-cost chart: a real matplotlib rendering with one labelled point per network."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from archspec.backends.plot import accuracy_chart
from archspec.cli import main
from tests.library import SPECS

NETWORKS = ("resnet50", "mobilenet_v2", "vit_b_16", "lenet5")


def test_chart_labels_every_imagenet_network(tmp_path: Path, capsys) -> None:
    target = tmp_path / "chart.svg"
    assert main(["plot", *(str(SPECS / f"{n}.yaml") for n in NETWORKS), "-o", str(target)]) == 0
    out = capsys.readouterr()
    assert "3 networks" in out.out and "lenet5 (10 classes" in out.err
    texts = ["".join(t.itertext()) for t in ET.parse(target).getroot().iter("{http://www.w3.org/2000/svg}text")]
    for name in NETWORKS[:3]:
        assert texts.count(name) == 2  # one label in each panel
    assert "lenet5" not in texts
    assert any("GMACs" in t for t in texts) and any("parameters" in t for t in texts)


def test_png_and_skipped_networks() -> None:
    entries = [{"name": "a", "classes": 1000, "params": 5_000_000, "macs": 400_000_000, "top1": 75.0},
               {"name": "b", "classes": 1000, "params": 60_000_000, "macs": 11_000_000_000, "top1": 80.0},
               {"name": "c", "classes": 1000, "params": 1_000_000, "macs": 1_000_000, "top1": None}]
    chart = accuracy_chart(entries, "png")
    assert chart.data.startswith(b"\x89PNG")
    assert chart.plotted == ["a", "b"] and chart.skipped == {"c": "no reported top-1"}


def test_nothing_to_plot_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["plot", str(SPECS / "lenet5.yaml"), "-o", str(tmp_path / "x.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
