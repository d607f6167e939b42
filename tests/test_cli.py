"""The command line: build, list, compare and the override flags, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import archspec
from archspec.cli import main
from tests.library import SPECS, library_copy

RESNET = str(SPECS / "resnet50.yaml")


def test_build_prints_stages_and_totals(capsys) -> None:
    assert main(["build", RESNET]) == 0
    out = capsys.readouterr().out
    for stage in ("stem", "layer1", "layer4", "head"):
        assert f"\n{stage} " in out
    assert "25,557,032" in out and "FLOPs" in out and "= 2 x MACs" in out


def test_build_json_has_the_promised_keys(capsys) -> None:
    assert main(["build", RESNET, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("name", "input_shape", "output_shape", "params", "buffers", "macs", "flops", "activations",
                "receptive_field", "layers"):
        assert key in data
    assert set(data["receptive_field"]) >= {"size", "stride", "padding"}
    # torchvision's ResNet-50: 25,557,032 parameters, 4.089 GMACs (its weights' _ops); FLOPs count two per MAC
    assert data["params"] == 25_557_032 == sum(layer["params"] for layer in data["layers"])
    assert round(data["macs"] / 1e9, 3) == 4.089 == round(sum(layer["macs"] for layer in data["layers"]) / 1e9, 3)
    assert abs(data["flops"] / 1e9 - 2 * 4.089) <= 2 * 0.0005
    layer = data["layers"][1]
    assert set(layer) >= {"name", "op", "output_shape", "params", "macs", "receptive_field"}


def test_build_saves_a_loadable_whole_module(tmp_path: Path, capsys) -> None:
    target = tmp_path / "r.pt"
    assert main(["build", RESNET, "-o", str(target), "--num-classes", "7", "--image-size", "64"]) == 0
    model = torch.load(target, weights_only=False).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pt"]


def test_overrides_change_the_figures(capsys) -> None:
    assert main(["build", RESNET, "--json", "--num-classes", "10", "--image-size", "112"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output_shape"] == [10] and data["input_shape"] == [3, 112, 112]
    assert data["params"] == 25_557_032 - 2048 * 990 - 990


def test_set_overrides_a_variable(capsys) -> None:
    vit = str(SPECS / "vit_b_16.yaml")
    assert main(["build", vit, "--json", "--set", "layers=1", "--set", "hidden=64", "--set", "mlp=128",
                 "--set", "heads=4"]) == 0
    data = json.loads(capsys.readouterr().out)
    d, mlp, tokens = 64, 128, 197
    layer = 4 * d * d + 4 * d + 2 * d * mlp + mlp + d + 4 * d  # attention, MLP, two layer norms
    stem = d * 3 * 16 * 16 + d + d + tokens * d
    assert data["params"] == stem + layer + 2 * d + d * 1000 + 1000


def test_set_rejects_unknown_variables(capsys) -> None:
    assert main(["build", RESNET, "--set", "depth=3"]) == 2
    assert "no 'depth' variable" in capsys.readouterr().err


def test_list_and_compare(capsys) -> None:
    assert main(["list", str(SPECS), "--sort", "macs", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {"resnet50", "vit_b_16"} <= {e["name"] for e in entries}
    macs = [e["macs"] for e in entries]
    assert macs == sorted(macs, reverse=True)
    assert main(["compare", RESNET, str(SPECS / "densenet121.yaml")]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "densenet121" in out and "25,557,032" in out


def test_accuracies_keep_their_dataset_and_input_size(capsys) -> None:
    """``list --sort top1`` ranks ImageNet-1k accuracies first, then each other dataset's (LeNet-5's MNIST 99.05
    below every ImageNet network); every accuracy says its dataset and size, and an --image-size override keeps
    the size it was measured at."""
    assert main(["list", str(SPECS), "--sort", "top1", "--json"]) == 0
    entries = [e for e in json.loads(capsys.readouterr().out) if e["top1"] is not None]
    datasets = [e["dataset"] for e in entries]
    assert datasets[-2:] == ["CIFAR-10", "MNIST"] and set(datasets[:-2]) == {"ImageNet-1k"}
    imagenet = [e["top1"] for e in entries[:-2]]
    assert imagenet == sorted(imagenet, reverse=True)
    assert main(["list", str(SPECS), "--sort", "top1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert any(row.startswith("lenet5 ") and "99.05 (MNIST, 32 px)" in row for row in rows)
    assert main(["compare", RESNET, "--image-size", "160", "--json"]) == 0
    (resnet,) = json.loads(capsys.readouterr().out)
    assert (resnet["input"], resnet["accuracy_input"], resnet["accuracy_at_input"]) == ("3x160x160", "224 px", False)
    assert main(["compare", RESNET, "--image-size", "160"]) == 0
    assert "76.13 (ImageNet-1k, 224 px)" in capsys.readouterr().out


def test_every_command_writes_a_count_one_way_in_a_readable_unit(tmp_path: Path, capsys) -> None:
    """LeNet-5's 416,520 MACs read 416.520 K wherever a unit is chosen (list once said 0.000 GMACs), AlexNet's
    61,100,840 params 61.101 M in build, list, compare and the layer summary alike."""
    for name in ("lenet5", "alexnet"):
        library_copy(tmp_path, name, (SPECS / f"{name}.yaml").read_text())
    assert main(["list", str(tmp_path)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "416.520 K" in rows["lenet5"] and "61.101 M" in rows["alexnet"] and "0.000" not in rows["lenet5"]
    assert main(["compare", "alexnet", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "61,100,840 (61.101 M)" in out and "416,520 (416.520 K)" in out
    assert main(["build", "alexnet"]) == 0
    assert "(61.101 M)" in capsys.readouterr().out
    assert "61.101 M" in str(archspec.summary("alexnet", depth=1))
