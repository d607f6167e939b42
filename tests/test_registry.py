"""The library by name, as timm's registry: list_models with wildcards, create_model, and names on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision

import archspec
from archspec.cli import main
from tests.library import LIBRARY, SPECS


def test_list_models_matches_the_library_folder() -> None:
    assert archspec.list_models() == sorted(path.stem for path in SPECS.glob("*.yaml"))
    assert archspec.list_models("resnet*") == sorted(path.stem for path in SPECS.glob("resnet*.yaml"))
    assert archspec.list_models(["vgg1?", "*_BN"]) == sorted(
        {path.stem for path in SPECS.glob("vgg1?.yaml")} | {path.stem for path in SPECS.glob("*_bn.yaml")})
    assert archspec.list_models("no_such_network*") == []


@pytest.mark.parametrize("name", LIBRARY)
def test_every_library_name_loads_as_its_file(name: str) -> None:
    by_name = archspec.load(name)
    assert by_name.source.file == str(SPECS / f"{name}.yaml")
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
