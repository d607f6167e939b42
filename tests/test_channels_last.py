"""Ops over a map's channels (layernorm, linear, layer_scale): their counts, and the compiled module's layouts
(one permute into and one out of a channels-last run, LayerNorm2d-style modules between channels-first ops),
checked against computations written here with torch's functions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import archspec
from archspec.ops.modules import ChannelLayerNorm

HEAD = "head: [{op: global_avgpool}, {op: flatten}]\n"


def compile_stem(tmp_path: Path, stem: str, resolution: int = 6) -> tuple[archspec.Spec, nn.Module]:
    """A spec whose stem is ``stem`` (YAML flow items after a 3 -> 8 conv named c1), and its module in eval mode
    with random norm weights (so that a mistaken axis shows)."""
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\ninput: {{channels: 3, resolution: {resolution}}}\n"
                    f"stem:\n  - {{op: conv, name: c1, out: 8, kernel: 3}}\n{stem}{HEAD}")
    spec = archspec.load(path)
    torch.manual_seed(0)
    model = spec.build().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.normal_()
                module.bias.normal_()
    return spec, model


def module(model: nn.Module, name: str) -> nn.Module:
    """The submodule whose path ends with ``name``."""
    found = [m for path, m in model.named_modules() if path.split(".")[-1] == name]
    assert len(found) == 1, [path for path, _ in model.named_modules()]
    return found[0]


class PermuteCounter(TorchFunctionMode):
    """Counts the permutes a forward pass makes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "permute":
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_layernorm_between_convolutions_normalises_each_position_s_channels(tmp_path: Path) -> None:
    _, model = compile_stem(tmp_path, "  - {op: layernorm, name: ln, axis: channels, eps: 1.0e-6}\n"
                                      "  - {op: conv, name: c2, out: 4, kernel: 1}\n")
    ln, c1, c2 = module(model, "ln"), module(model, "c1"), module(model, "c2")
    assert isinstance(ln, ChannelLayerNorm) and ln.normalized_shape == (8,)
    x = torch.randn(2, 3, 6, 6)
    y = F.layer_norm(c1(x).permute(0, 2, 3, 1), (8,), ln.weight, ln.bias, 1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(model(x), c2(y).mean((2, 3)), rtol=1e-5, atol=1e-6)


def test_a_channels_last_run_permutes_once_in_and_once_out(tmp_path: Path) -> None:
    spec, model = compile_stem(tmp_path, "  - {op: layernorm, name: ln, axis: channels}\n"
                                         "  - {op: linear, name: up, axis: channels, out: 32}\n"
                                         "  - {op: gelu}\n"
                                         "  - {op: linear, name: down, axis: channels, out: 8}\n"
                                         "  - {op: layer_scale, name: scale, init: 0.5}\n"
                                         "  - {op: conv, name: c2, out: 4, kernel: 1}\n")
    ln, up, down, c1, c2 = (module(model, n) for n in ("ln", "up", "down", "c1", "c2"))
    assert type(ln) is nn.LayerNorm and type(up) is nn.Linear and up.weight.shape == (32, 8)
    scale = dict(model.named_parameters())["stem.scale"]
    assert scale.shape == (8, 1, 1) and torch.equal(scale, torch.full((8, 1, 1), 0.5))
    x = torch.randn(2, 3, 6, 6)
    y = c1(x).permute(0, 2, 3, 1)
    y = down(F.gelu(up(F.layer_norm(y, (8,), ln.weight, ln.bias, 1e-5)))).permute(0, 3, 1, 2) * scale
    counter = PermuteCounter()
    with counter:
        out = model(x)
    torch.testing.assert_close(out, c2(y).mean((2, 3)), rtol=1e-5, atol=1e-6)
    assert counter.count == 2
    # the linear over channels: C_in x C_out weights and a bias; one MAC per weight at each of the 6x6 positions
    report = spec.analyze()
    assert report.params == (3 * 9 * 8 + 8) + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 8 + (8 * 4 + 4)
    assert report.macs == 6 * 6 * (3 * 9 * 8 + 8 * 32 + 32 * 8 + 8 * 4)


def test_layernorm_over_all_normalises_the_whole_map(tmp_path: Path) -> None:
    spec, model = compile_stem(tmp_path, "  - {op: layernorm, name: ln, axis: all}\n")
    ln, c1 = module(model, "ln"), module(model, "c1")
    assert ln.normalized_shape == (8, 6, 6)
    assert spec.analyze().params == (3 * 9 * 8 + 8) + 2 * 8 * 6 * 6
    x = torch.randn(2, 3, 6, 6)
    expected = F.layer_norm(c1(x), (8, 6, 6), ln.weight, ln.bias, 1e-5).mean((2, 3))
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def test_layer_scale_on_tokens_has_one_factor_per_feature(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: t\ninput: {channels: 3, resolution: 8}\n"
                    "stem:\n  - {op: patch_embed, dim: 6, patch: 4}\n  - {op: layer_scale, name: scale}\n")  # no head
    spec = archspec.load(path)
    model = spec.build()
    scale = dict(model.named_parameters())["stem.scale"]
    assert scale.shape == (6,) and torch.equal(scale, torch.full((6,), 1e-6))
    assert spec.analyze().params == 6 * 3 * 4 * 4 + 6 + 6


@pytest.mark.parametrize("op", ["layernorm", "linear, out: 4"])
def test_an_op_over_channels_on_a_map_must_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  op: str) -> None:
    from archspec.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\ninput: {{channels: 3, resolution: 6}}\nstem:\n  - {{op: conv, out: 8, kernel: 3}}\n"
                    f"  - {{op: {op}}}\n")
    assert main(["build", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5:5: stem[1]: ") and "axis" in err and err.count("\n") == 1
