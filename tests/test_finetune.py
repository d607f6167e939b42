"""Transfer learning: replacing the head, freezing leading stages, per-stage optimizer groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import archspec
from archspec.backends.finetune import FrozenBatchNorm2d
from archspec.backends.onnx_export import export_program
from archspec.cli import main
from tests.library import SPECS, load

RESNET18 = str(SPECS / "resnet18.yaml")
HEAD = [{"op": "global_avgpool", "name": "pool"}, {"op": "flatten"}, {"op": "dropout", "p": 0.2},
        {"op": "linear", "name": "classifier", "out": "$num_classes"}]


def small_resnet(**build) -> tuple[archspec.Spec, nn.Module]:
    """resnet18 at 32 px with 10 classes, compiled."""
    torch.manual_seed(0)
    spec = load("resnet18").with_overrides(num_classes=10, image_size=32)
    return spec, spec.build(**build)


def stage_of(name: str) -> str:
    """The spec stage a parameter is in: its first name part, or ``head`` for the head's items."""
    first = name.split(".")[0]
    return first if first in load("resnet18").graph.stages else "head"


def test_with_head_replaces_the_classifier() -> None:
    spec = load("resnet18").with_overrides(num_classes=7).with_head(HEAD)
    model = spec.build().eval()
    assert model.stage_modules["head"] == ["pool", "flatten", "dropout", "classifier"]  # the head's items are children
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    assert spec.analyze().params == load("resnet18").analyze().params - 1000 * 513 + 7 * 513
    features = load("resnet18").with_head([]).analyze()  # no head: a feature extractor
    assert tuple(features.output_shape) == (512, 7, 7)


def test_head_errors_are_located_in_the_head(tmp_path: Path) -> None:
    with pytest.raises(archspec.SpecError, match=r"^<head>: head\[1\]\.outt: op 'linear' has no parameter 'outt' "
                                                 r"\(did you mean 'out'\?\)"):
        load("resnet18").with_head([{"op": "flatten", "start": 0}, {"op": "linear", "outt": 3}])
    with pytest.raises(archspec.SpecError, match=r"^<head>: head\[0\]\.name: must be a string"):
        load("resnet18").with_head([{"op": "flatten", "name": 3}])
    head = tmp_path / "head.yaml"
    head.write_text("head:\n  - {op: flatten}\n  - {op: linaer, out: 3}\n")
    with pytest.raises(archspec.SpecError, match=rf"^{head}:3:10: head\[1\]\.op: unknown op 'linaer' \(did you"):
        load("resnet18").with_head(head)
    head.write_text("head:\n  - {op: select_token}\n")  # a CNN's feature map has no tokens
    with pytest.raises(archspec.GraphError, match=rf"^{head}:2:5: head\[0\]"):
        load("resnet18").with_head(head).graph  # noqa: B018
    head.write_text("- {op: flatten}\n")
    with pytest.raises(archspec.SpecError, match="a head must be a mapping with a 'head' list"):
        load("resnet18").with_head(head)


def test_cli_head_and_num_classes(tmp_path: Path, capsys) -> None:
    head = tmp_path / "head.yaml"
    head.write_text(json.dumps({"head": HEAD}))  # JSON is YAML too
    assert main(["build", RESNET18, "--head", str(head), "--num-classes", "5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output_shape"] == [5]
    assert [layer["name"] for layer in data["layers"]][-4:] == ["pool", "flatten", "dropout", "classifier"]


def test_freeze_until_stops_gradients_and_keeps_batchnorm_in_eval_mode() -> None:
    _, model = small_resnet(freeze_until="layer2")
    frozen = {"stem", "layer1", "layer2"}
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == (stage_of(name) not in frozen), name
    model.train()
    norms = {name: m for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    for name, module in norms.items():
        assert module.training == (stage_of(name) not in frozen), name
        assert isinstance(module, FrozenBatchNorm2d) == (stage_of(name) in frozen), name
    before = {name: m.running_mean.clone() for name, m in norms.items()}
    model(torch.randn(4, 3, 32, 32)).sum().backward()
    for name, module in norms.items():
        assert torch.equal(module.running_mean, before[name]) == (stage_of(name) in frozen), name
    for name, parameter in model.named_parameters():
        assert (parameter.grad is None) == (stage_of(name) in frozen), name


def test_freeze_until_an_unknown_stage_lists_the_stages() -> None:
    with pytest.raises(archspec.SpecError,
                       match=r"resnet18\.yaml:\d+:\d+: stages: no stage 'layer9' \(stages: stem, layer1, layer2, "
                             r"layer3, layer4, head\)"):
        load("resnet18").build(freeze_until="layer9")


def test_a_frozen_network_exports_compiles_and_pickles(tmp_path: Path) -> None:
    _, model = small_resnet(freeze_until="layer3")
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    program = export_program(model, (3, 32, 32))
    torch.testing.assert_close(program.module()(x), expected)
    model.train()  # frozen BatchNorm stays in eval mode, so train mode is deterministic where it is frozen
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), model(x))
    torch.save(model, tmp_path / "frozen.pt")
    again = torch.load(tmp_path / "frozen.pt", weights_only=False).train()
    assert not again.get_submodule("layer3.1.bn2").training and again.get_submodule("layer4.1.bn2").training


def test_cli_freeze_until_saves_a_frozen_module(tmp_path: Path, capsys) -> None:
    target = tmp_path / "frozen.pt"
    assert main(["build", RESNET18, "--num-classes", "10", "--freeze-until", "layer4", "-o", str(target)]) == 0
    assert "froze stem .. layer4: 11,176,512 of 11,181,642 parameters" in capsys.readouterr().out
    model = torch.load(target, weights_only=False)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    assert main(["build", RESNET18, "--freeze-until", "layer5"]) == 2
    assert "no stage 'layer5'" in capsys.readouterr().err


def test_param_groups_decay_geometrically_from_the_head() -> None:
    _, model = small_resnet(freeze_until="layer1")
    groups = archspec.param_groups(model, lr=0.1, decay=0.5, weight_decay=1e-4)
    assert [g["name"] for g in groups] == ["layer2", "layer2", "layer3", "layer3", "layer4", "layer4", "head", "head"]
    distance = {"head": 0, "layer4": 1, "layer3": 2, "layer2": 3}  # the frozen stem and layer1 still count
    names = {id(p): n for n, p in model.named_parameters()}
    seen = []
    for group in groups:
        assert group["lr"] == pytest.approx(0.1 * 0.5 ** distance[group["name"]])
        for parameter in group["params"]:
            assert stage_of(names[id(parameter)]) == group["name"]
            assert group["weight_decay"] == (1e-4 if parameter.ndim > 1 else 0.0), names[id(parameter)]
        seen += group["params"]
    assert sorted(names[id(p)] for p in seen) == sorted(n for n, p in model.named_parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(groups)
    before = model.get_submodule("layer1.0.conv1").weight.clone()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    assert torch.equal(model.get_submodule("layer1.0.conv1").weight, before)
    with pytest.raises(ValueError, match="decay > 0"):
        archspec.param_groups(model, lr=0.1, decay=0)
