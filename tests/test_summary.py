"""The layer summary (``archspec.summary``, ``build --layers``) against torchinfo's per-layer figures on the
torchvision twins, and its rows, columns and formats against the network's own modules."""

from __future__ import annotations

import copy
import csv
import io
import json
from math import prod

import pytest
import torch
import torchinfo

import archspec
from archspec.backends.summary import COLUMNS, DTYPE_BYTES
from archspec.cli import main
from tests.library import load, reference_model

TWINS = ["resnet50", "efficientnet_b0", "vit_b_16"]


def torchinfo_leaves(model: torch.nn.Module, shape: tuple[int, ...]) -> dict[str, torchinfo.layer_info.LayerInfo]:
    """torchinfo's rows for the modules without children that hold parameters, by module name (batch 1)."""
    names = {id(module): name for name, module in model.named_modules()}
    stats = torchinfo.summary(model, input_size=(1, *shape), depth=100, verbose=0)
    torchinfo.torchinfo._cached_forward_pass.clear()
    return {names[id(layer.module)]: layer for layer in stats.summary_list if layer.is_leaf_layer and layer.num_params}


def torchinfo_macs_as_ours(layer: torchinfo.layer_info.LayerInfo) -> int:
    """A convolution's or linear layer's MACs from torchinfo's, by its documented rule: torchinfo also counts
    one MAC per bias element and output position, which archspec (as torchvision's ``_ops`` and fvcore) does not;
    for a linear layer it multiplies the parameters by the batch alone, missing the tokens a sequence has."""
    module, output = layer.module, layer.output_size
    bias = module.bias.numel() if getattr(module, "bias", None) is not None else 0
    if isinstance(module, torch.nn.Conv2d):
        return layer.macs - bias * prod(output[2:])
    assert isinstance(module, torch.nn.Linear)
    return (layer.macs - bias) * prod(output[1:-1])


@pytest.mark.parametrize("name", TWINS)
def test_per_layer_params_and_macs_agree_with_torchinfo_on_the_twin(name: str) -> None:
    """Every layer of ours with parameters against the torchvision modules its weights load into: params equal
    torchinfo's; convolution and linear MACs equal torchinfo's without its bias term (and, for linear layers on
    tokens, times the tokens). Norms are left out of the MACs (torchinfo counts their affine parameters as
    MACs; archspec counts norms as other ops), and so are attention layers, whose input projections torchinfo
    shows on no row (they are parameters of nn.MultiheadAttention itself, not of a layer without children)."""
    spec = load(name)
    ours, twin = spec.build(), reference_model(spec)
    theirs = torchinfo_leaves(twin, tuple(spec.analyze().input_shape))
    rows = {row.name: row for row in archspec.summary(spec, depth=None).leaves().rows}
    covered: dict[str, list[str]] = {}  # our layer -> the twin tensors its weights load from
    for key, twin_key in archspec.transfer_weights(ours, twin).items():
        owner = key  # a layer's tensor (ViT's pos_embedding), or one of its module's parts (SE's fc1.weight)
        while owner not in rows:
            owner = owner.rpartition(".")[0]
            assert owner, f"{key} is in no layer's row"
        covered.setdefault(owner, []).append(twin_key)
    twin_state = twin.state_dict()
    compared = {"params": 0, "macs": 0}
    for owner, keys in covered.items():
        row = rows[owner]
        modules = sorted({key.rpartition(".")[0] for key in keys if key.rpartition(".")[0] in theirs})
        # tensors of modules with children are on none of torchinfo's rows: nn.MultiheadAttention's input
        # projection, ViT's class token and position embedding
        unshown = [key for key in keys if key.rpartition(".")[0] not in theirs and key in dict(twin.named_parameters())]
        layers = [theirs[m] for m in modules]
        assert row.params == sum(layer.num_params for layer in layers) + sum(twin_state[k].numel() for k in unshown), \
            owner
        compared["params"] += 1
        if not unshown and all(isinstance(layer.module, torch.nn.Conv2d | torch.nn.Linear) for layer in layers):
            assert row.macs == sum(map(torchinfo_macs_as_ours, layers)), owner
            compared["macs"] += 1
    assert compared["macs"] >= 3 and sum(row.params for row in rows.values()) == spec.analyze().params


def test_every_column_and_depth() -> None:
    """Rows at each depth are the modules of the compiled network at that depth, every column is shown, and a
    stage's figures are the sums of its layers'."""
    spec = load("efficientnet_b0")
    model = spec.build()
    deep = archspec.summary(spec, depth=None)
    modules = dict(model.named_modules())
    for row in deep.rows:  # a row with weights is the module of that name (an add or a functional SiLU is not one)
        assert not row.params or row.params == sum(p.numel() for p in modules[row.name].parameters()), row.name
    for depth in (1, 2, 3):
        names = [row.name for row in archspec.summary(spec, depth=depth).rows]
        assert names == [row.name for row in deep.rows if row.depth <= depth]
    text = str(archspec.summary(spec, depth=2))
    header = text.splitlines()[2].split()
    assert header == ["name", "op", "input", "output", "params", "MACs", "MACs", "%", "activations", "RF"]
    by_name = {row.name: row for row in deep.rows}
    stage = by_name["stage4"]
    parts = [row for row in deep.rows if row.leaf and row.name.startswith("stage4.")]
    assert stage.params == sum(r.params for r in parts) == sum(
        p.numel() for p in model.get_submodule("stage4").parameters())
    assert stage.macs == sum(r.macs for r in parts) and stage.activations == sum(r.activations for r in parts)
    assert stage.input_shapes == [[24, 56, 56]] and stage.output_shape == [40, 28, 28]
    assert stage.op == "MBConv6 k=5 c=40 stride=2 x2" and by_name["stage4.1"].op == "MBConv6 k=5 c=40 stride=1"
    assert by_name["stem.0.0"].op == "conv 3x3/2" and by_name["stem.0.2"].op == "SiLU"
    assert abs(sum(r.macs_percent for r in deep.leaves().rows) - 100) < 1e-9


def test_weight_size_for_a_dtype_is_what_the_module_holds() -> None:
    spec = load("resnet18")
    model = spec.build().to(torch.bfloat16)
    held = sum(p.numel() * p.element_size() for p in model.parameters())
    data = archspec.summary(spec, dtype="bfloat16").to_dict()
    assert data["weight_bytes"] == held and DTYPE_BYTES["bfloat16"] == torch.bfloat16.itemsize
    assert "as bfloat16" in str(archspec.summary(spec, dtype="bf16"))


def test_a_compiled_module_and_its_copy_summarise_as_their_spec() -> None:
    model = archspec.create_model("resnet18")
    expected = [r.to_dict() for r in archspec.summary("resnet18").rows]
    assert [r.to_dict() for r in archspec.summary(model).rows] == expected
    assert [r.to_dict() for r in archspec.summary(copy.deepcopy(model)).rows] == expected
    other = archspec.create_model("resnet18", num_classes=10)
    with pytest.raises(archspec.SpecError, match="pass the spec"):
        archspec.summary(copy.deepcopy(other))
    with pytest.raises(archspec.SpecError, match="got Linear"):
        archspec.summary(torch.nn.Linear(2, 2))


def test_columns_are_chosen_by_name_or_torchinfo_alias() -> None:
    chosen = archspec.summary("resnet18", depth=1, columns=["num_params", "mult_adds"])
    assert chosen.columns == ("params", "macs")
    assert str(chosen).splitlines()[2].split() == ["name", "params", "MACs"]
    with pytest.raises(archspec.SpecError, match="no column 'flops'"):
        archspec.summary("resnet18", columns=["flops"])
    with pytest.raises(archspec.SpecError, match="depth must be"):
        archspec.summary("resnet18", depth=0)


def test_cli_layers_csv_and_json_give_the_same_rows(capsys) -> None:
    assert main(["build", "vit_b_16", "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert main(["build", "vit_b_16", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [row["name"] for row in table] == [row["name"] for row in layers]
    assert set(table[0]) == set(layers[0]) == {"name", "depth", "leaf", "op", "input_shapes", "output_shape",
                                               "params", "buffers", "macs", "macs_percent", "other_ops",
                                               "activations", "receptive_field"}
    assert sum(int(row["params"]) for row in table) == 86_567_656 == sum(row["params"] for row in layers)
    assert main(["build", "vit_b_16", "--layers", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "MHSA h=12" not in out and "\n  0              encoder_layer mlp=3072 heads=12" in out
    assert main(["build", "vit_b_16", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "MHSA h=12" in out and all(HEAD in out for HEAD in ("MACs %", "activations", "RF", "input"))
    assert main(["build", "vit_b_16", "--columns", "op,bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_notebook_display() -> None:
    spec = load("resnet18")
    html = archspec.summary(spec, depth=1)._repr_html_()
    assert html.count("<tr>") == 1 + len(archspec.summary(spec, depth=1).rows) and "layer4" in html
    assert "<table" in spec._repr_html_() and "<table" in spec.analyze()._repr_html_()
    assert repr(spec.analyze()).startswith("<Report resnet18: 11,689,512 params")
    assert len(repr(spec)) < 200 and len(repr(spec.analyze())) < 200
    assert "summary" in dir(archspec) and set(archspec.__all__) <= set(dir(archspec))


def test_all_columns_listed() -> None:
    assert set(archspec.summary("lenet5").columns) == set(COLUMNS)
