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
    assert "3 networks" in out.out and "lenet5 (top-1 on MNIST, not ImageNet-1k)" in out.err
    texts = ["".join(t.itertext()) for t in ET.parse(target).getroot().iter("{http://www.w3.org/2000/svg}text")]
    for name in NETWORKS[:3]:
        assert texts.count(name) == 2  # one label in each panel
    assert "lenet5" not in texts
    assert any("GMACs" in t for t in texts) and any("parameters" in t for t in texts)


def test_png_and_skipped_networks() -> None:
    imagenet = {"classes": 1000, "dataset": "ImageNet-1k", "accuracy_at_input": True}
    entries = [{"name": "a", "params": 5_000_000, "macs": 400_000_000, "top1": 75.0, **imagenet},
               {"name": "b", "params": 60_000_000, "macs": 11_000_000_000, "top1": 80.0, **imagenet},
               {"name": "c", "params": 1_000_000, "macs": 1_000_000, "top1": None, **imagenet}]
    chart = accuracy_chart(entries, "png")
    assert chart.data.startswith(b"\x89PNG")
    assert chart.plotted == ["a", "b"] and chart.skipped == {"c": "no reported top-1"}


def test_nothing_to_plot_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["plot", str(SPECS / "lenet5.yaml"), "-o", str(tmp_path / "x.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_accuracy_from_another_input_size_is_not_plotted(tmp_path: Path, capsys) -> None:
    """ResNet-50's top-1 is measured at 224 px: analysed at 160 px, its MACs are not the accuracy's, so it is left
    out with the reason (and the chart of nothing else is refused)."""
    target = tmp_path / "chart.svg"
    assert main(["plot", str(SPECS / "resnet50.yaml"), str(SPECS / "vit_b_16.yaml"), "--image-size", "160", "-o",
                 str(target)]) == 2
    assert "top-1 measured at 224 px, analysed at 3x160x160" in capsys.readouterr().err
