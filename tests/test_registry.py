"""The library by name, as timm's registry: list_models with wildcards, create_model, and names on the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

import archspec
from archspec.cli import main
from tests.library import LIBRARY, SPECS, load


def test_list_models_matches_the_library_folder() -> None:
    assert archspec.list_models() == sorted(path.stem for path in SPECS.glob("*.yaml"))
    assert archspec.list_models("resnet*") == sorted(path.stem for path in SPECS.glob("resnet*.yaml"))
    assert archspec.list_models(["vgg1?", "*_BN"]) == sorted(
        {path.stem for path in SPECS.glob("vgg1?.yaml")} | {path.stem for path in SPECS.glob("*_bn.yaml")})
    assert archspec.list_models("no_such_network*") == []


def test_every_torchvision_classification_model_has_a_spec() -> None:
    """torchvision's classification models (its own registry: 80 in 0.29) each have a library spec naming it as the
    twin."""
    models = set(torchvision.models.list_models(module=torchvision.models))
    twins = {load(name).network.reference.torchvision for name in LIBRARY if load(name).network.reference}
    assert sorted(models - twins) == []
    assert len(models) >= 80


@pytest.mark.parametrize("name", LIBRARY)
def test_every_library_name_loads_as_its_file(name: str) -> None:
    by_name = archspec.load(name)
    assert by_name.file == str(SPECS / f"{name}.yaml")
    assert by_name.content_hash == archspec.load(SPECS / f"{name}.yaml").content_hash


def test_the_cli_takes_names_from_any_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["build", "resnet50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 25_557_032  # torchvision's resnet50
    assert main(["table", "resnet18"]) == 0
    assert "layer1" in capsys.readouterr().out
    assert main(["draw", "efficientnet_b0", "-o", "e.dot"]) == 0
    assert (tmp_path / "e.dot").read_text().startswith("digraph")
    assert main(["build", "resnet5"]) == 2
    assert capsys.readouterr().err.strip() == ("resnet5: no such spec file, and no library network of that name "
                                               "(archspec list shows them)")


def test_a_file_of_that_name_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text("name: mine\nhead: [{op: flatten}, {op: linear, out: 3}]\n")
    spec = archspec.load("resnet18")
    assert spec.name == "mine" and spec.analyze().params == 3 * 3 * 224 * 224 + 3


def test_create_model_with_overrides_and_pretrained_weights(tmp_path: Path) -> None:
    reference = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    model = archspec.create_model("resnet18", num_classes=10, image_size=64,
                                  pretrained_weights=tmp_path / "resnet18.pth").eval()
    assert (model.spec_name, sum(p.numel() for p in model.parameters())) == (
        "resnet18", sum(p.numel() for p in reference.parameters()))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5)
    archspec.save_weights(model, tmp_path / "ours.safetensors")
    again = archspec.create_model("resnet18", num_classes=10, image_size=64,
                                  pretrained_weights=tmp_path / "ours.safetensors").eval()
    with torch.no_grad():
        assert torch.equal(again(x), model(x))


def test_create_model_refuses_what_is_no_state_dict(tmp_path: Path) -> None:
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(archspec.WeightsError, match=r"not a state dict saved with torch\.save"):
        archspec.create_model("lenet5", pretrained_weights=tmp_path / "junk.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(archspec.WeightsError, match="expected a state dict"):
        archspec.create_model("lenet5", pretrained_weights=tmp_path / "list.pth")


USER_SPEC = """name: mine
imports: [blocks/resnet.yaml]
input: {channels: 3, resolution: 64}
stem:
  - {op: conv, out: 16, kernel: 3, bias: false}
stages:
  - {name: layer1, block: basic, c: 16, n: 1, s: 1}
head:
  - {op: global_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


def test_a_non_editable_install_ships_the_library(tmp_path: Path) -> None:
    """The wheel holds every library network and block file: from a folder outside the checkout, the library is
    listed and built by name, and a user's spec imports the library's blocks by their library name."""
    root = SPECS.parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheel"), str(root)], check=True, capture_output=True)
    wheel = next((tmp_path / "wheel").glob("archspec-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mine.yaml").write_text(USER_SPEC)
    script = ("import archspec; print(archspec.__file__); print(len(archspec.list_models()));"
              "print(archspec.load('mine.yaml').analyze().params); print(archspec.load('resnet18').analyze().params)")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "elsewhere", capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, check=True)
    where, count, mine, resnet18 = result.stdout.split()
    assert where.startswith(str(tmp_path / "site"))  # the installed copy, not the checkout
    assert int(count) == len(LIBRARY)
    # conv 3*16*9, basic block 2 x (16*16*9 + BN 32), linear 16*10+10; torchvision's resnet18: 11,689,512
    assert int(mine) == 3 * 16 * 9 + 2 * (16 * 16 * 9 + 32) + 16 * 10 + 10
    assert int(resnet18) == sum(p.numel() for p in torchvision.models.resnet18().parameters())
