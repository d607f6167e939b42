"""Receptive fields against independent computations: gradient footprints of linearised torchvision and timm
twins for the whole library (tests/footprint.py says how), and hand-derived fields and hand-built torch modules
for each rule of the analysis (dilation, TensorFlow ``same`` padding, ceil_mode, merges, squeeze-excitation)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
import torchvision.ops
from torch import nn
from torchvision.models.maxvit import RelativePositionalMultiHeadAttention
from torchvision.models.swin_transformer import ShiftedWindowAttention

import archspec
from archspec.analysis.report import Report
from archspec.ir.graph import Node, ReceptiveField
from tests.footprint import (
    ConstantConv,
    ConstantLinear,
    GroupSum,
    WindowSum,
    attended,
    field,
    linearise,
    supports,
    window_sum,
)
from tests.library import LIBRARY, by_network, load, reference_model, takes_resolution, with_reference

AXES = ("rows", "columns")
# twins that run only at the resolution they are built for, too small for an unclipped headline field
FIXED_RESOLUTION = {"maxvit_t": "torchvision's MaxViT departitions by the grid it was built for, and its grid "
                                "attention needs a square map; test_maxvit_block_attention_field_equals_the_footprint "
                                "checks its local attention at 224 px instead"}
Field = tuple[int, int, int]  # size, stride, padding along one axis


def resized(spec: archspec.Spec, height: int, width: int) -> archspec.Spec:
    """``spec`` at a (height, width) input (the table's resolution column no longer applies, as with_overrides)."""
    network = spec.network
    stages = [row.model_copy(update={"resolution": None}) for row in network.stages]
    image = network.input.model_copy(update={"resolution": (height, width)})
    return replace(spec, network=network.model_copy(update={"input": image, "stages": stages}))


def headline_node(report: Report) -> Node:
    """The node whose field is the headline one: the last on the main path whose field is still local."""
    graph = report.graph
    main = graph.ancestors(graph.outputs[0])
    return [node for node in graph if node.name in main and not node.rf.is_global][-1]


def axis_field(rf: dict, axis: int) -> Field:
    """(size, stride, padding) of a report's receptive field along one axis."""
    return rf["size"][axis], rf["stride"][axis], rf["padding"][axis]


def first_unclipped(rf: ReceptiveField, axis: int) -> int:
    """The first position from which every position's field starts after index 0 (clipping would show there)."""
    return max(0, (-min(rf.starts[axis])) // rf.stride[axis] + 1)


def probe(spec: archspec.Spec, axis: int) -> tuple[Report, list[int]]:
    """``spec`` analysed at an input thin across ``axis`` (the first power of two it accepts) and long enough along
    it that a period of positions plus one (from the first whose field starts inside the image) exist in its last
    map with every field ending at least one pixel inside the image; those positions."""
    default = spec.analyze().input_shape[2 - axis]

    def at(length: int, thin: int) -> archspec.Spec:
        return resized(spec, length, thin) if axis == 0 else resized(spec, thin, length)

    def accepted(length: int, thin: int) -> Report | None:
        try:
            return at(length, thin).analyze()
        except archspec.GraphError:
            return None

    length = default
    thins = [2 ** k for k in range(default.bit_length())] + [default]
    thin, report = next((thin, report) for thin in thins if (report := accepted(length, thin)) is not None)
    while True:  # windows that cover a short axis are local on a long one: grow until the positions fit
        node = headline_node(report)
        start = first_unclipped(node.rf, axis)
        positions = list(range(start, start + node.rf.period[axis] + 1))
        if node.shape[1 + axis] > positions[-1] and node.rf.span(axis, positions[-1])[1] < length - 1:
            return report, positions
        length += max(node.rf.stride[axis], length // 4)
        report = at(length, thin).analyze()


@pytest.mark.parametrize("name", by_network(with_reference(LIBRARY)))  # the large ones one at a time
def test_headline_field_equals_the_gradient_footprint_of_the_reference(name: str) -> None:
    """Per axis, the headline size, stride and padding are the footprint of units of the twin's last map, and
    ``global_context`` holds exactly when a unit's gradient reaches the whole image through squeeze-excitation."""
    if name in FIXED_RESOLUTION:
        pytest.skip(f"{name}: {FIXED_RESOLUTION[name]}")
    spec = load(name)
    report = spec.analyze()
    node = headline_node(report)
    if len(node.shape) != 3:
        pytest.skip(f"{name}: the headline field is that of {node.name} ({node.kind}, shape {list(node.shape)}), "
                    "a token of a transformer, not a (C, H, W) map: its global attention has no local footprint")
    assert not takes_resolution(spec), f"{name}: the twin depends on the resolution, one copy cannot serve all"
    model = reference_model(spec)
    probes = [probe(spec, axis) for axis in range(2)]
    gates = linearise(model, local=max(len(positions) for _, positions in probes))
    left = [key for key, _ in itertools.chain(model.named_parameters(), model.named_buffers())]
    assert not left, f"{name}: linearising left tensors {left[:3]}: a layer kind is not linearised"
    for (axis, axis_name), (probed, positions) in zip(enumerate(AXES), probes, strict=True):
        rf = headline_node(probed).rf
        if report.receptive_field["period"] == [1, 1]:  # windows covering a short axis depend on its length
            assert axis_field(probed.receptive_field, axis) == axis_field(report.receptive_field, axis), (
                f"{name}: the field depends on the resolution")
        # samples: a period of positions and one more (the stride), then the second with its gates live
        sampled = positions + ([positions[1]] if gates else [])
        units = [(p, 0) if axis == 0 else (0, p) for p in sampled]
        shape, reached = supports(model, tuple(probed.input_shape), units, axis)
        assert shape == headline_node(probed).shape, (
            f"{name} {axis_name}: the twin's last map is {list(shape)}, archspec's headline node "
            f"{headline_node(probed).name} is {list(headline_node(probed).shape)}")
        for position, indices in zip(positions, reached, strict=False):
            assert rf.span(axis, position) == (indices[0], indices[-1]), (
                f"{name} {axis_name}: position {position} sees pixels {rf.span(axis, position)}, its footprint "
                f"{indices[0]}..{indices[-1]} (size {rf.size[axis]}, stride {rf.stride[axis]}, period "
                f"{rf.period[axis]})")
        # the local footprint of positions[1] starts after index 0: reaching all of the axis takes global context
        length, live = probed.input_shape[1 + axis], reached[-1]
        reaches_all = live == list(range(length))
        assert reaches_all == report.receptive_field["global_context"], (
            f"{name} {axis_name}: global_context {report.receptive_field['global_context']}, but with "
            f"{gates} squeeze-excitation gates live one unit's gradient reaches {len(live)} of {length}")


def write(folder: Path, stem: str, resolution: str = "64", variables: str = "{}") -> archspec.Spec:
    """A one-channel feature extractor whose stem is the YAML flow sequence ``stem``, loaded from ``folder``."""
    path = folder / "probe.yaml"
    path.write_text(f"name: probe\ninput: {{channels: 1, resolution: {resolution}}}\nvariables: {variables}\n"
                    f"stem: {stem}\nhead: []\n")
    return archspec.load(path)


def fields(spec: archspec.Spec) -> tuple[Field, Field, bool]:
    """The headline field of ``spec``: rows, columns and global_context."""
    rf = spec.analyze().receptive_field
    return axis_field(rf, 0), axis_field(rf, 1), rf["global_context"]


def footprint_fields(module: nn.Module, image: tuple[int, int, int]) -> tuple[Field, Field, bool]:
    """The footprint fields of a hand-built module, measured at the middle of its output (unclipped when the image
    is large enough): rows, columns, and whether one unit with live gates reaches the whole image."""
    gates = linearise(module, local=3)
    with torch.no_grad():
        out = module(torch.ones(1, *image, dtype=torch.float64)).shape[2:]
    measured, whole = [], []
    for axis in range(2):
        middle = out[axis] // 2
        positions = [middle, middle + 1, middle] + ([middle] if gates else [])
        units = [(p, out[1] // 2) if axis == 0 else (out[0] // 2, p) for p in positions]
        _, reached = supports(module, image, units, axis)
        assert all(r[0] > 0 and r[-1] < image[1 + axis] - 1 for r in reached[:3]), f"{image}: clipped footprint"
        measured.append(field(reached, middle, middle))
        whole.append(reached[-1] == list(range(image[1 + axis])))
    assert whole[0] == whole[1], f"global context along one axis only: {whole}"
    return measured[0], measured[1], whole[0]


def assert_fields(what: str, actual: tuple[Field, Field, bool], expected: tuple[Field, Field, bool]) -> None:
    """Each axis and quantity of ``actual`` equals ``expected``, else a message naming them."""
    for axis, axis_name in enumerate(AXES):
        for quantity, got, wanted in zip(("size", "stride", "padding"), actual[axis], expected[axis], strict=True):
            assert got == wanted, f"{what} {axis_name}: {quantity} {got} != expected {wanted}"
    assert actual[2] == expected[2], f"{what}: global_context {actual[2]} != expected {expected[2]}"


def test_linearised_layers_equal_torch_layers_with_constant_weights() -> None:
    """ConstantConv and ConstantLinear equal torch's layers with all-ones weights divided by the fan-in (exactly, on
    integer inputs), window_sum has F.max_pool2d's output size (its windows: padding and ceil_mode included)."""
    x = torch.randint(0, 9, (2, 6, 13, 11)).double()
    for kernel, stride, padding, dilation, groups in [((3, 5), 2, (1, 2), 1, 1), (3, 1, 2, 2, 3), (1, 2, 0, 1, 6),
                                                      ((2, 3), (1, 3), 0, (2, 1), 2), (3, 2, 4, 1, 2)]:
        conv = nn.Conv2d(6, 12, kernel, stride, padding, dilation, groups, bias=False).double()
        nn.init.ones_(conv.weight)
        with torch.no_grad():
            expected = conv(x) / conv.weight[0].numel()
        assert torch.equal(ConstantConv(conv)(x), expected), conv
    linear = nn.Linear(11, 4, bias=False).double()
    nn.init.ones_(linear.weight)
    with torch.no_grad():
        assert torch.equal(ConstantLinear(linear)(x), linear(x) / 11)
    for kernel, stride, padding, ceil_mode in itertools.product((2, 3), (1, 2, 3), (0, 1), (False, True)):
        expected_shape = F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode).shape
        assert window_sum(x, kernel, stride, padding, ceil_mode=ceil_mode).shape == expected_shape


@pytest.mark.parametrize("shift", [0, 2])
def test_window_sum_equals_torchvision_attention_with_constant_weights(shift: int) -> None:
    """WindowSum equals torchvision's ShiftedWindowAttention (three heads, a 5 x 9 map padded to 8 x 12) with zero
    query weights, key, value and output weights 1 / channels, no biases and ``attended`` for its softmax."""
    attention = ShiftedWindowAttention(6, [4, 4], [shift, shift], num_heads=3).double()
    constant_weights(attention.qkv, attention.proj, attention.relative_position_bias_table)
    x = torch.randint(0, 9, (2, 5, 9, 6)).double()
    with torch.no_grad(), mock.patch.object(F, "softmax", attended):
        expected = attention(x)
    assert torch.allclose(WindowSum(attention)(x), expected, rtol=0, atol=1e-12)


def constant_weights(qkv: nn.Linear, projection: nn.Linear, bias_table: torch.Tensor) -> None:
    """An attention's linearised weights: zero queries, keys, values and output all 1 / channels, no biases and a
    zero position-bias table."""
    channels = projection.in_features
    with torch.no_grad():
        qkv.weight.fill_(1 / channels)
        qkv.weight[:channels].zero_()
        projection.weight.fill_(1 / channels)
        for tensor in (qkv.bias, projection.bias, bias_table):
            tensor.zero_()


def test_group_sum_equals_torchvision_maxvit_attention_with_constant_weights() -> None:
    """GroupSum equals torchvision's MaxViT attention (two heads of 3 channels, groups of 4 tokens) with zero query
    weights, key, value and output weights 1 / channels, no biases and ``attended`` for its softmax."""
    attention = RelativePositionalMultiHeadAttention(6, 3, 4).double()
    constant_weights(attention.to_qkv, attention.merge, attention.relative_position_bias_table)
    x = torch.randint(0, 9, (2, 5, 4, 6)).double()
    with torch.no_grad(), mock.patch.object(F, "softmax", attended):
        expected = attention(x)
    assert torch.allclose(GroupSum()(x), expected, rtol=0, atol=1e-12)


def test_maxvit_block_attention_field_equals_the_footprint() -> None:
    """MaxViT-T's first block-attention layer (stage 1, 7x7 windows of a 56x56 map: period 7): each position's
    first and last pixel, one period of positions and one more, are the gradient footprint of the same layer of
    torchvision's MaxViT at 224 px, and the squeeze-excitation before it gives global context exactly."""
    spec = load("maxvit_t")
    rf = spec.analyze().graph["stage1.0.window_attention.add_1"].rf
    assert rf.period == (7, 7)
    model = reference_model(spec)
    layer = model.blocks[0].layers[0].layers.window_attention
    assert linearise(model, local=rf.period[0] + 1) > 0
    for axis, axis_name in enumerate(AXES):
        start = first_unclipped(rf, axis)
        positions = list(range(start, start + rf.period[axis] + 1))
        units = [(p, 0) if axis == 0 else (0, p) for p in [*positions, positions[1]]]
        shape, reached = supports(model, (3, 224, 224), units, axis, at=layer)
        assert shape == (64, 56, 56)
        for position, indices in zip(positions, reached, strict=False):
            assert rf.span(axis, position) == (indices[0], indices[-1]), (
                f"{axis_name}: position {position} sees pixels {rf.span(axis, position)}, its footprint "
                f"{indices[0]}..{indices[-1]}")
        assert (reached[-1] == list(range(224))) == rf.global_context


def test_same_padding_puts_the_odd_pixel_after_like_tensorflow(tmp_path: Path) -> None:
    """conv (3, 4)/2 ``same`` on 8 x 9: TensorFlow pads (0 before, 1 after) rows and (1, 2) columns."""
    spec = write(tmp_path, "[{op: conv, out: 1, kernel: [3, 4], stride: 2, padding: same, bias: false}]", "[8, 9]")
    # rows: ceil(8 / 2) = 4 outputs need 3 * 2 + 3 = 9 rows, 1 more than 8: 0 before, 1 after
    # columns: ceil(9 / 2) = 5 outputs need 4 * 2 + 4 = 12 columns, 3 more than 9: 1 before, 2 after
    assert_fields("same conv", fields(spec), ((3, 2, 0), (4, 2, 1), False))
    model = spec.build()
    (weight,) = model.parameters()
    with torch.no_grad():
        weight.copy_(torch.arange(12.0).reshape(1, 1, 3, 4) - 5)
        x = torch.arange(72.0).reshape(1, 1, 8, 9) % 7
        expected = F.conv2d(F.pad(x, (1, 2, 0, 1)), weight, stride=2)  # (left, right, top, bottom)
        assert expected.shape == (1, 1, 4, 5)
        assert torch.equal(model(x), expected), "same padding: the compiled conv pads other sides than TensorFlow"


def pool_shapes(folder: Path, op: str, oversized: bool) -> list[tuple[str, list[int] | None, list[int] | None]]:
    """(case, archspec's output shape, torch's) of ``op`` for kernels 1-4, strides 1-3, paddings up to half the
    kernel, both ceil modes and inputs of 1-17 by 2-18 pixels; None where one refuses. ``oversized``: only the
    ceil_mode cases whose kernel exceeds the padded input, else all the others."""
    spec = write(folder, f"[{{op: {op}, kernel: $k, stride: $s, padding: $p, ceil_mode: $ceil}}]",
                 variables="{k: 2, s: 2, p: 0, ceil: false}")
    pool = nn.MaxPool2d if op == "maxpool" else nn.AvgPool2d
    shapes = []
    for kernel, stride, ceil_mode in itertools.product(range(1, 5), range(1, 4), (False, True)):
        for padding in range(kernel // 2 + 1):
            variant = spec.with_overrides(variables={"k": kernel, "s": stride, "p": padding, "ceil": ceil_mode})
            module = pool(kernel, stride, padding, ceil_mode=ceil_mode)
            for size in range(1, 18):
                if oversized != (ceil_mode and kernel > size + 2 * padding):
                    continue
                try:
                    expected = list(module(torch.zeros(1, 1, size, size + 1)).shape[1:])
                except RuntimeError:
                    expected = None
                try:
                    analysed = resized(variant, size, size + 1).analyze().output_shape
                except archspec.GraphError:
                    analysed = None
                shapes.append((f"{op} k{kernel} s{stride} p{padding} ceil_mode={ceil_mode} on {size} x {size + 1}",
                               analysed, expected))
    return shapes


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_pooled_shapes_equal_torch_including_ceil_mode(tmp_path: Path, op: str) -> None:
    """archspec's pooled shape is torch's (or both refuse), the oversized ceil_mode windows aside (next test)."""
    for case, analysed, expected in pool_shapes(tmp_path, op, oversized=False):
        assert analysed == expected, f"{case}: archspec {analysed} != torch {expected}"


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_ceil_mode_accepts_a_window_larger_than_the_padded_input(tmp_path: Path, op: str) -> None:
    """In ceil_mode torch keeps a window that starts inside the input and ends past its padding."""
    for case, analysed, expected in pool_shapes(tmp_path, op, oversized=True):
        assert analysed == expected, f"{case}: archspec {analysed} != torch {expected}"


def test_dilated_convs_widen_the_field_by_dilation_times_stride(tmp_path: Path) -> None:
    """conv (3, 5)/2, conv 3 dilation (2, 3), conv 3 dilation 3, each padded (k - 1) * d / 2."""
    spec = write(tmp_path, "[{op: conv, out: 1, kernel: [3, 5], stride: 2}, {op: conv, out: 1, kernel: 3, "
                           "dilation: [2, 3]}, {op: conv, out: 1, kernel: 3, dilation: 3}]")
    # rows: 3 (stride 2, padding 1); 3 + (3 - 1) * 2 * 2 = 11 (1 + 2 * 2 = 5); 11 + (3 - 1) * 3 * 2 = 23 (5 + 3 * 2)
    # columns: 5 (stride 2, padding 2); 5 + (3 - 1) * 3 * 2 = 17 (2 + 3 * 2 = 8); 17 + 12 = 29 (8 + 3 * 2 = 14)
    expected = ((23, 2, 11), (29, 2, 14), False)
    assert_fields("dilated convs", fields(spec), expected)
    module = nn.Sequential(nn.Conv2d(1, 1, (3, 5), 2, (1, 2)), nn.Conv2d(1, 1, 3, padding=(2, 3), dilation=(2, 3)),
                           nn.Conv2d(1, 1, 3, padding=3, dilation=3))
    assert_fields("dilated torch convs", footprint_fields(module, (1, 64, 64)), expected)


def test_ceil_mode_keeps_the_window_field(tmp_path: Path) -> None:
    """conv 3 then maxpool 2/2 padding 1 ceil_mode on 17 px: torch's 9 positions, field 3 + 1, padding 1 + 1."""
    spec = write(tmp_path, "[{op: conv, out: 1, kernel: 3}, "
                           "{op: maxpool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}]", "17")
    shape = spec.analyze().output_shape
    assert shape == [1, 9, 9], f"maxpool 2/2 padding 1 ceil_mode on 17 px: archspec {shape} != torch [1, 9, 9]"
    expected = ((4, 2, 2), (4, 2, 2), False)
    assert_fields("ceil_mode pool", fields(spec), expected)
    module = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2, 2, 1, ceil_mode=True))
    assert_fields("ceil_mode torch pool", footprint_fields(module, (1, 17, 17)), expected)


class Merge(nn.Module):
    """Branches applied to one input, then concatenated or added."""

    def __init__(self, merge: str, *branches: nn.Module) -> None:
        super().__init__()
        self.merge, self.branches = merge, nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The merged branch outputs."""
        outs = [branch(x) for branch in self.branches]
        return torch.cat(outs, 1) if self.merge == "concat" else torch.stack(outs).sum(0)


def conv(kernel: int | tuple[int, int], stride: int = 1) -> nn.Conv2d:
    """A one-channel conv with an odd kernel, padded (k - 1) / 2 as archspec's ``auto``."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    return nn.Conv2d(1, 1, kernel, stride, (kernel[0] // 2, kernel[1] // 2))


MERGES = [
    # rows: 1, 5 (padding 2), 1; columns: 1, 3 (padding 1), 7 (padding 3): the union is 5 rows by 7 columns
    ("concat of 1x1, 5x3 and 1x7", "[{parallel: [{op: conv, out: 1, kernel: 1}, {op: conv, out: 1, kernel: [5, 3]}, "
     "{op: conv, out: 1, kernel: [1, 7]}], merge: concat}]",
     Merge("concat", conv(1), conv((5, 3)), conv((1, 7))), ((5, 1, 2), (7, 1, 3), False)),
    # conv 3/2 padding 1 sees [-1, 1]; conv 2/2 then conv 2 `same` (padding 0 before, 1 after) sees [0, 1 + 2]:
    # the union [-1, 3] is 5 wide, stride 2, padding 1, neither branch's field
    ("concat of 3/2 and 2/2 + 2 same", "[{parallel: [{op: conv, out: 1, kernel: 3, stride: 2}, "
     "[{op: conv, out: 1, kernel: 2, stride: 2}, {op: conv, out: 1, kernel: 2, padding: same}]], merge: concat}]",
     Merge("concat", conv(3, 2), nn.Sequential(nn.Conv2d(1, 1, 2, 2), nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(1, 1, 2))),
     ((5, 2, 1), (5, 2, 1), False)),
    # identity (1, padding 0) + two 3x3 convs (5, padding 2): the second input has the larger field
    ("add of identity and 3x3 + 3x3", "[{parallel: [[], [{op: conv, out: 1, kernel: 3}, "
     "{op: conv, out: 1, kernel: 3}]], merge: add}]",
     Merge("add", nn.Identity(), nn.Sequential(conv(3), conv(3))), ((5, 1, 2), (5, 1, 2), False)),
    # body 1x3 + shortcut 5x1: 5 rows (padding 2) from the shortcut, 3 columns (padding 1) from the body
    ("residual 1x3 with shortcut 5x1", "[{residual: [{op: conv, out: 1, kernel: [1, 3]}], "
     "shortcut: {op: conv, out: 1, kernel: [5, 1]}}]",
     Merge("add", conv((1, 3)), conv((5, 1))), ((5, 1, 2), (3, 1, 1), False)),
]


@pytest.mark.parametrize(("what", "stem", "module", "expected"), MERGES, ids=[case[0] for case in MERGES])
def test_merges_take_the_union_of_all_their_inputs(tmp_path: Path, what: str, stem: str, module: nn.Module,
                                                    expected: tuple[Field, Field, bool]) -> None:
    """A merge's field spans every input's field, whichever input has it, per axis (hand-derived, and the same
    branches built in torch)."""
    assert_fields(what, fields(write(tmp_path, stem, "16")), expected)
    assert_fields(f"torch {what}", footprint_fields(module, (1, 16, 16)), expected)


def test_squeeze_excitation_keeps_the_local_field_and_flags_global_context(tmp_path: Path) -> None:
    """conv 3, SE, conv 3: the local field of two 3x3 convs (gate held), and the whole image with the gate live."""
    convs = "{op: conv, out: 4, kernel: 3}"
    excited = write(tmp_path, f"[{convs}, {{op: squeeze_excite, squeeze: 2}}, {convs}]")
    assert_fields("SE between convs", fields(excited), ((5, 1, 2), (5, 1, 2), True))
    plain = write(tmp_path, f"[{convs}, {convs}]")
    assert_fields("convs", fields(plain), ((5, 1, 2), (5, 1, 2), False))
    module = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), torchvision.ops.SqueezeExcitation(4, 2),
                           nn.Conv2d(4, 4, 3, padding=1))
    assert_fields("torch SE between convs", footprint_fields(module, (1, 32, 32)), ((5, 1, 2), (5, 1, 2), True))
    module = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1))
    assert_fields("torch convs", footprint_fields(module, (1, 32, 32)), ((5, 1, 2), (5, 1, 2), False))


def test_attention_through_a_residual_add_makes_the_headline_global() -> None:
    """ViT-B/16: every token of torchvision's encoder output depends on every pixel (the gradient of one patch
    token is nonzero over the whole image), so the encoder blocks' adds and the headline are global; the patch
    embedding keeps its 16 px field. A pooled gate (EfficientNet's squeeze-excitation) stays global context."""
    reference = torchvision.models.vit_b_16().eval()
    x = torch.randn(1, 3, 224, 224, requires_grad=True)
    tokens = reference.encoder(torch.cat([reference.class_token, reference._process_input(x)], dim=1))
    (tokens[0, 1] * torch.randn(768)).sum().backward()  # not a plain sum: a layer-normed token sums to zero
    assert bool((x.grad.abs().sum(1) > 0).all())
    spec = load("vit_b_16")
    graph, report = spec.graph, spec.analyze()
    assert graph["encoder.0.add"].rf.is_global and graph["encoder.11.add_1"].rf.is_global
    assert not graph["stem.conv_proj"].rf.is_global and graph["stem.conv_proj"].rf.size == (16, 16)
    assert report.receptive_field["global"]
    assert "receptive field global: every position sees the whole image (attention), stride 16" in str(
        archspec.summary(spec))
    effnet = load("efficientnet_b0").analyze().receptive_field
    assert not effnet["global"] and effnet["global_context"] and effnet["size"] == [851, 851]
    assert not load("resnet50").analyze().receptive_field["global"]
