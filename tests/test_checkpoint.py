"""Weights: safetensors files tagged with the spec's content hash, and other implementations' state dicts."""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import archspec
from archspec.backends.torch_module import to_module
from archspec.cli import main
from tests.library import SPECS, load, reference_model
from tests.test_malformed_specs import VALID

RESNET18 = str(SPECS / "resnet18.yaml")


def trained(spec: archspec.Spec) -> torch.nn.Module:
    """``spec`` compiled, with one SGD step taken so that its weights and statistics are not the initial ones."""
    torch.manual_seed(0)
    model = spec.build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(4, *spec.analyze().input_shape)).square().mean().backward()
    optimizer.step()
    return model.eval()


def test_weights_round_trip_with_the_content_hash(tmp_path: Path) -> None:
    spec = load("resnet18").with_overrides(num_classes=10, image_size=32)
    model, path = trained(spec), tmp_path / "w.safetensors"
    archspec.save_weights(model, path)
    with safe_open(path, framework="pt") as file:
        assert file.metadata() == {"archspec.spec": "resnet18", "archspec.content_hash": spec.content_hash}
    fresh = spec.build().eval()
    archspec.load_weights(fresh, path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_the_compiled_module_records_its_spec() -> None:
    spec = load("lenet5")
    model = spec.build()
    copies = [model, copy.deepcopy(model), to_module(spec.graph, initialise=False)]
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copies.append(torch.load(buffer, weights_only=False))
    assert [(m.spec_name, m.spec_hash) for m in copies] == [("lenet5", spec.content_hash)] * len(copies)


def test_weights_need_a_module_that_records_its_spec(tmp_path: Path) -> None:
    spec, path = load("lenet5"), tmp_path / "w.safetensors"
    archspec.save_weights(spec.build(), path)
    plain = spec.build()
    del plain.spec_hash  # as a module not compiled by archspec
    for call in (lambda: archspec.save_weights(plain, tmp_path / "p.safetensors"),
                 lambda: archspec.load_weights(plain, path)):
        with pytest.raises(archspec.WeightsError, match=r"the model \(Lenet5\) records no spec_hash: only a module "
                                                        r"compiled by archspec \(Spec\.build\)"):
            call()
    archspec.load_weights(plain, path, check_hash=False)
    assert not (tmp_path / "p.safetensors").exists()


def test_the_old_argument_orders_still_work_with_a_warning(tmp_path: Path) -> None:
    spec, path = load("lenet5"), tmp_path / "w.safetensors"
    model, loaded, transferred = trained(spec), spec.build(), spec.build()
    for function, target in (("save_weights", model), ("load_weights", loaded)):
        with pytest.warns(DeprecationWarning, match=rf"{function}\(model, spec, path\) is deprecated .* call "
                                                    rf"{function}\(model, path\)"):
            getattr(archspec, function)(target, spec, path)
    with pytest.warns(DeprecationWarning, match=r"call transfer_weights\(model, reference\)"):
        pairs = archspec.transfer_weights(model.state_dict(), transferred)
    assert pairs == {name: name for name in model.state_dict()}
    for copied in (loaded, transferred):
        assert all(torch.equal(copied.state_dict()[name], tensor) for name, tensor in model.state_dict().items())
    other = spec.with_overrides(num_classes=7)
    for function in ("save_weights", "load_weights"):
        with pytest.warns(DeprecationWarning), pytest.raises(
                archspec.WeightsError, match=rf"{function}: the model was compiled from spec 'lenet5' \(content hash "
                                             rf"{spec.content_hash[:12]}\), not from the spec 'lenet5' given"):
            getattr(archspec, function)(model, other, tmp_path / "other.safetensors")
    assert not (tmp_path / "other.safetensors").exists()


def test_content_hash_follows_the_spec_and_its_blocks() -> None:
    spec = load("resnet18")
    assert len(spec.content_hash) == 64 and spec.content_hash == load("resnet18").content_hash
    others = [spec.with_overrides(num_classes=10), spec.with_overrides(image_size=160), load("resnet34"),
              spec.with_head([{"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out": 1000}])]
    assert len({spec.content_hash, *(other.content_hash for other in others)}) == 1 + len(others)


def test_weights_of_another_spec_name_the_first_mismatching_tensor(tmp_path: Path) -> None:
    spec, path = load("resnet18"), tmp_path / "w.safetensors"
    archspec.save_weights(spec.build(), path)
    with pytest.raises(archspec.WeightsError, match=r"saved from spec 'resnet18' \(content hash [0-9a-f]{12}\), not "
                                                    r"from spec 'resnet34' .*first mismatching tensor: "
                                                    r"'layer1\.2\.conv1\.weight' \[64, 64, 3, 3\] is missing"):
        archspec.load_weights(load("resnet34").build(), path)
    ten = spec.with_overrides(num_classes=10)
    with pytest.raises(archspec.WeightsError, match=r"first mismatching tensor: 'fc\.weight' is \[1000, 512\] "
                                                    r"in the file but \[10, 512\] in the model"):
        archspec.load_weights(ten.build(), path)
    with pytest.raises(archspec.WeightsError, match=r"do not fit the model: first mismatching tensor: 'fc"):
        archspec.load_weights(ten.build(), path, check_hash=False)


def test_same_tensors_from_a_changed_spec_need_check_hash_false(tmp_path: Path) -> None:
    first, second = tmp_path / "relu.yaml", tmp_path / "gelu.yaml"
    first.write_text(VALID)
    second.write_text(VALID.replace("{op: relu}", "{op: gelu}"))
    relu, gelu = archspec.load(first), archspec.load(second)
    path = tmp_path / "w.safetensors"
    archspec.save_weights(trained(relu), path)
    model = gelu.build()
    with pytest.raises(archspec.WeightsError, match=r"every tensor matches in name, shape and dtype "
                                                    r"\(load_weights\(\.\.\., check_hash=False\) accepts them\)"):
        archspec.load_weights(model, path)
    archspec.load_weights(model, path, check_hash=False)
    assert torch.equal(model.state_dict()["stem.0.weight"], load_file(path)["stem.0.weight"])


def test_unreadable_or_foreign_files(tmp_path: Path) -> None:
    spec = load("resnet18")
    model = spec.build()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    for path, reason in ((junk, "cannot read safetensors weights"),
                         (tmp_path / "missing.safetensors", "cannot read file: No such file or directory")):
        with pytest.raises(archspec.WeightsError, match=reason):
            archspec.load_weights(model, path)
    plain = tmp_path / "plain.safetensors"
    save_file(model.state_dict(), plain)
    with pytest.raises(archspec.WeightsError, match=r"carry no archspec content hash.*every tensor matches"):
        archspec.load_weights(model, plain)


def test_cli_saves_and_loads_weights(tmp_path: Path, capsys) -> None:
    path = str(tmp_path / "w.safetensors")
    assert main(["build", RESNET18, "--num-classes", "10", "-o", path]) == 0
    assert "saved the weights (safetensors, tagged with the spec's content hash)" in capsys.readouterr().out
    whole = str(tmp_path / "m.pt")
    assert main(["build", RESNET18, "--num-classes", "10", "--weights", path, "-o", whole]) == 0
    assert torch.equal(torch.load(whole, weights_only=False).state_dict()["fc.weight"],
                       load_file(path)["fc.weight"])
    assert main(["build", RESNET18, "--weights", path]) == 2
    assert "first mismatching tensor: 'fc.weight' is [10, 512] in the file" in capsys.readouterr().err
    assert main(["build", RESNET18, "-o", str(tmp_path / "w.bin")]) == 2
    assert "expected a .pt, .pth or .safetensors file name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["resnet18", "resnetv2_50"])
def test_transfer_from_checkpoint_files(name: str, tmp_path: Path) -> None:
    """torchvision publishes ``torch.save`` state dicts, timm safetensors files, which sort tensors by name: those
    go through the reference model (order restored); passed directly they are refused, not silently mismatched."""
    spec = load(name)
    reference, model = reference_model(spec), spec.build().eval()
    with torch.no_grad():
        for tensor in reference.state_dict().values():  # distinct values, so that a mix-up shows in the output
            tensor.add_(0.01 * torch.rand(tensor.shape)) if tensor.is_floating_point() else None
    if spec.network.reference.timm:
        save_file(reference.state_dict(), tmp_path / "model.safetensors")
        state = load_file(tmp_path / "model.safetensors")
        with pytest.raises(archspec.WeightsError, match=r"sorted by name .* so their layer order is lost"):
            archspec.transfer_weights(model, state)
        reference.load_state_dict(state)
        archspec.transfer_weights(model, reference)
    else:
        torch.save(reference.state_dict(), tmp_path / "model.pth")
        archspec.transfer_weights(model, torch.load(tmp_path / "model.pth", weights_only=True))
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


def test_transfer_errors_name_the_tensor() -> None:
    spec = load("resnet18")
    state = reference_model(spec).state_dict()
    wrong = {**state, "layer3.0.conv1.weight": torch.zeros(256, 128, 1, 1)}
    with pytest.raises(archspec.WeightsError, match=r"model tensor #\d+ 'layer3\.0\.conv1\.weight' \[256, 128, 3, 3\] "
                                                    r"has no counterpart left in the reference"):
        archspec.transfer_weights(spec.build(), wrong)
    extra = {**state, "fc2.weight": torch.zeros(3, 3)}
    with pytest.raises(archspec.WeightsError, match=r"reference tensor 'fc2\.weight' \[3, 3\] has no counterpart"):
        archspec.transfer_weights(spec.build(), extra)


def test_a_short_weights_file_is_a_failed_write(tmp_path: Path, capsys, monkeypatch) -> None:
    """safetensors itself reports no failed write (a full disk): the file's length is checked against its header."""
    import safetensors.torch

    import archspec.backends.checkpoint as checkpoint

    def short(tensors: dict[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
        safetensors.torch.save_file(tensors, path, metadata=metadata)
        os.truncate(path, os.path.getsize(path) - 1)  # what a full disk leaves

    out = tmp_path / "w.safetensors"
    out.write_bytes(b"before")
    monkeypatch.setattr(checkpoint, "save_file", short)
    spec = "name: t\ninput: {channels: 3, resolution: 8}\nstem: [{op: conv, out: 4, kernel: 3}]\n"
    (tmp_path / "t.yaml").write_text(spec)
    assert main(["build", str(tmp_path / "t.yaml"), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (f"cannot write {str(out)!r}: the file was written incompletely (is the disk "
                                       "full?)\n")
    assert out.read_bytes() == b"before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml", "w.safetensors"]  # no temporary file left
