"""Diagrams rendered by the real Graphviz ``dot``: their structure, not just that a file appears."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from archspec.cli import main
from tests.library import SPECS, load

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Layout:
    """What ``dot -Tjson`` laid out: node names, edges by name, and each cluster's node names and label."""

    nodes: set[str]
    edges: list[tuple[str, str]]
    clusters: dict[str, set[str]]
    labels: dict[str, str]

    def into(self, head: str) -> list[str]:
        """Tails of the edges ending at ``head``."""
        return [t for t, h in self.edges if h == head]


def draw(tmp_path: Path, name: str, *flags: str) -> Layout:
    """``archspec draw`` to a .dot file, laid out again by ``dot -Tjson``."""
    target = tmp_path / f"{name}.dot"
    assert main(["draw", str(SPECS / f"{name}.yaml"), "-o", str(target), *flags]) == 0
    data = json.loads(subprocess.run(["dot", "-Tjson", str(target)], check=True, capture_output=True).stdout)
    count = data.get("_subgraph_cnt", 0)
    objects = data["objects"]
    names = {obj["_gvid"]: obj["name"] for obj in objects[count:]}
    clusters = {obj["name"]: {names[i] for i in obj.get("nodes", [])} for obj in objects[:count]
                if obj["name"].startswith("cluster_")}
    labels = {obj["name"]: obj.get("label", "") for obj in objects[:count] if obj["name"].startswith("cluster_")}
    return Layout(set(names.values()), [(names[e["tail"]], names[e["head"]]) for e in data.get("edges", [])],
                  clusters, labels)


def svg_texts(path: Path) -> list[str]:
    """Every text of a rendered SVG."""
    return ["".join(t.itertext()) for t in ET.parse(path).getroot().iter(f"{SVG}text")]


def test_inception_module_has_four_branches_at_block_and_layer_level(tmp_path: Path) -> None:
    block = draw(tmp_path, "googlenet")
    module = block.clusters["cluster_inception3a"]
    branches = block.into("inception3a.concat")
    assert len(branches) == 4 and set(branches) <= module
    assert module == {*branches, "inception3a.concat"}
    # all four branches read the stem's output
    assert {t for t, h in block.edges if h in branches} == {"stem.conv1.conv"}
    layer = draw(tmp_path, "googlenet", "--level", "layer")
    assert len(layer.into("inception3a.concat")) == 4
    assert len(layer.clusters["cluster_inception3a"]) == 6 * 3 + 2  # six conv-BN-ReLU, the pool, the concat


def test_resnet50_collapses_each_stages_identity_blocks(tmp_path: Path) -> None:
    spec = load("resnet50")
    layout = draw(tmp_path, "resnet50")
    for row in spec.network.stages:  # the first block of a stage projects; the other n - 1 are identical
        n = row.n
        assert f"cluster_{row.name}.0" in layout.clusters
        label = layout.labels[f"cluster_{row.name}.1"]
        assert f"{row.name}.1\u2013{n - 1} \u00d7{n - 1}" in label
        add = f"{row.name}.1.add"
        assert set(layout.into(add)) == {f"{row.name}.1.conv1", f"{row.name}.0.add"}  # body and identity shortcut
    stages = len(spec.network.stages)
    # input, stem, head, legend; per stage: (body, projection, add) + (body, add)
    assert len(layout.nodes) == 4 + stages * 5
    # input->stem, last add->head; per stage: 2 in + 2 to the add, then 1 in + shortcut + body->add
    assert len(layout.edges) == 2 + stages * 7
    assert len(layout.clusters) == 2 * stages + 1  # and the legend
    expanded = draw(tmp_path, "resnet50", "--expand")
    blocks = sum(row.n for row in spec.network.stages)
    assert len(expanded.clusters) == blocks + 1
    titles = [re.search(r"<B>(.*?)</B>", label) for label in expanded.labels.values()]
    assert not any(title and "\u00d7" in title.group(1) for title in titles)
    assert len(expanded.nodes) == 4 + stages * 3 + (blocks - stages) * 2


def test_densenet_dense_connections_and_collapsed_dense_blocks(tmp_path: Path) -> None:
    spec = load("densenet121")
    layout = draw(tmp_path, "densenet121")
    dense = [row for row in spec.network.stages if row.block == "dense_layer"]
    for row in dense:
        assert f"\u00d7{row.n}" in layout.labels[f"cluster_{row.name}.0"]
        concat = f"{row.name}.0.concat"
        tails = layout.into(concat)
        assert len(tails) == 2 and f"{row.name}.0.norm1" in tails  # new features and the dense connection
    target = tmp_path / "d.svg"
    assert main(["draw", str(SPECS / "densenet121.yaml"), "-o", str(target)]) == 0
    texts = svg_texts(target)
    for row in dense:
        assert any(text.endswith(f"\u00d7{row.n}") and text.startswith(row.name) for text in texts)


def test_squeeze_excitation_is_a_side_path(tmp_path: Path) -> None:
    spec = load("efficientnet_b0")
    layout = draw(tmp_path, "efficientnet_b0")
    gates = [node.name for node in spec.graph if node.kind == "squeeze_excite" and node.name in layout.nodes]
    # one SE per drawn block: a row's first block, and one for the run of its other n - 1
    assert len(gates) == sum(1 if row.n == 1 else 2 for row in spec.network.stages)
    for name in gates:
        (source,) = layout.into(name)
        (after,) = [h for t, h in layout.edges if t == name]
        assert (source, after) in layout.edges  # the main path passes the side path by


def test_vit_h_collapses_its_encoder(tmp_path: Path) -> None:
    spec = load("vit_h_14")
    layers = spec.network.variables["layers"]
    layout = draw(tmp_path, "vit_h_14")
    assert f"\u00d7{layers}" in layout.labels["cluster_encoder.0"]
    adds = [name for name in layout.clusters["cluster_encoder.0"] if ".add" in name]
    assert len(adds) == 2 and all(len(layout.into(add)) == 2 for add in adds)  # two residual merges


def test_activations_have_one_name_however_a_spec_writes_them(tmp_path: Path) -> None:
    """AlexNet writes ``{op: activation, fn: relu}``, ResNet ``{op: relu}``: both diagrams say ReLU, as PyTorch's
    class; MobileNetV3's hard swish is Hardswish."""
    for name, activation in [("alexnet", "ReLU"), ("resnet18", "ReLU"), ("mobilenet_v3_large", "Hardswish")]:
        target = tmp_path / f"{name}.svg"
        assert main(["draw", str(SPECS / f"{name}.yaml"), "-o", str(target)]) == 0
        texts = " ".join(svg_texts(target))
        assert activation in texts and activation.lower() not in re.findall(r"[A-Za-z]+", texts), name


def test_stage_level_is_one_node_per_stage(tmp_path: Path) -> None:
    graph = load("resnet50").graph
    layout = draw(tmp_path, "resnet50", "--level", "stage")
    assert layout.nodes == {"input", *graph.stages, "legend"}
    chain = ["input", *graph.stages]
    assert sorted(layout.edges) == sorted(pairwise(chain))


def test_layer_level_draws_every_node_and_edge(tmp_path: Path) -> None:
    graph = load("resnet18").graph
    layout = draw(tmp_path, "resnet18", "--level", "layer", "--expand")
    assert layout.nodes == {node.name for node in graph} | {"legend"}
    assert sorted(layout.edges) == sorted((s, node.name) for node in graph for s in node.inputs)


def test_every_format_renders(tmp_path: Path) -> None:
    spec = str(SPECS / "resnet18.yaml")
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}
    for fmt, start in magic.items():
        target = tmp_path / f"r.{fmt}"
        assert main(["draw", spec, "-o", str(target), "--edge-shapes"]) == 0
        assert target.read_bytes().startswith(start)
    assert "64\u00d756\u00d756" in svg_texts(tmp_path / "r.svg")


def test_bad_output_names_are_one_line_errors(tmp_path: Path, capsys) -> None:
    spec = str(SPECS / "resnet18.yaml")
    assert main(["draw", spec, "-o", str(tmp_path / "r.jpg")]) == 2
    assert main(["draw", spec, "-o", str(tmp_path / "missing" / "r.svg")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and ".svg" in errors[0] and "does not exist" in errors[1]
    assert list(tmp_path.iterdir()) == []


def test_gallery_draws_every_spec_and_lists_them(tmp_path: Path, capsys) -> None:
    library = tmp_path / "specs"
    library.mkdir()
    (library / "blocks").symlink_to(SPECS / "blocks")
    for name in ("resnet18", "googlenet"):
        shutil.copy(SPECS / f"{name}.yaml", library)
    docs = tmp_path / "docs"
    (docs / "gallery").mkdir(parents=True)
    (docs / "gallery" / "removed.svg").write_text("<svg/>")
    assert main(["gallery", str(library), "--output-dir", str(docs)]) == 0
    assert sorted(p.name for p in (docs / "gallery").iterdir()) == ["googlenet.svg", "resnet18.svg"]
    page = (docs / "gallery.md").read_text()
    for name in ("resnet18", "googlenet"):
        assert f"](gallery/{name}.svg)" in page and f"## {name}" in page
        assert any(t.startswith("inception3a") for t in svg_texts(docs / "gallery" / "googlenet.svg"))


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_direction_and_dpi(tmp_path: Path, capsys) -> None:
    """--direction LR lays the network out left to right (a deep network wider than tall); --dpi scales a PNG."""
    spec = str(SPECS / "resnet18.yaml")
    sizes = {}
    for direction, dpi in (("TB", 48), ("LR", 48), ("TB", 96)):
        target = tmp_path / f"{direction}{dpi}.png"
        assert main(["draw", spec, "-o", str(target), "--direction", direction, "--dpi", str(dpi)]) == 0
        sizes[direction, dpi] = _png_size(target.read_bytes())
    (tall_w, tall_h), (wide_w, wide_h), (big_w, big_h) = sizes["TB", 48], sizes["LR", 48], sizes["TB", 96]
    assert tall_h > tall_w and wide_w > wide_h
    assert abs(big_w - 2 * tall_w) <= 2 and abs(big_h - 2 * tall_h) <= 2
    assert 'rankdir=LR' in load("resnet18").diagram(direction="LR").source
    assert main(["draw", spec, "-o", str(tmp_path / "a.svg"), "--dpi", "96"]) == 2
    assert "--dpi is for .png files" in capsys.readouterr().err


def test_a_png_too_tall_for_a_bitmap_is_refused_with_advice(tmp_path: Path, capsys) -> None:
    """dot would shrink a picture above 32767 px to fit, with a raw warning: one line with what to do instead,
    nothing written."""
    target = tmp_path / "r.png"
    args = ["draw", str(SPECS / "resnet50.yaml"), "--level", "layer", "--expand", "--dpi", "600", "-o", str(target)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too large for a PNG" in err and "--direction LR" in err
    assert not target.exists()
