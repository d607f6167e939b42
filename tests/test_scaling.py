"""Scaling: EfficientNet B1-B7 from B0 against torchvision, the reference rounding rules, and properties."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torchvision
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.cli import main
from archspec.spec.dump import dump_spec
from archspec.transforms.scaling import Multipliers, exact, round_channels, round_repeats, scale
from archspec.transforms.search import grid
from tests.library import SPECS, library_copy, load

# (width, depth, resolution, dropout) of B1-B7: the EfficientNet reference implementation's table
COEFFICIENTS = {1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3), 4: (1.4, 1.8, 380, 0.4),
                5: (1.6, 2.2, 456, 0.4), 6: (1.8, 2.6, 528, 0.5), 7: (2.0, 3.1, 600, 0.5)}
STRUCTURE = ("input", "variables", "scaling", "imports", "blocks", "stem", "stages", "head")


def scaled_b(n: int) -> archspec.Spec:
    width, depth, resolution, dropout = COEFFICIENTS[n]
    variables = {"dropout": dropout}
    if n >= 5:  # torchvision's B5-B7 batch norm settings
        variables |= {"bn_eps": 1e-3, "bn_momentum": 0.01}
    b0 = load("efficientnet_b0").with_overrides(variables=variables)
    return scale(b0, Multipliers(depth=exact(depth), width=exact(width), image_size=resolution),
                 name=f"efficientnet_b{n}")[0]


@pytest.mark.parametrize("n", sorted(COEFFICIENTS))
def test_scaled_b0_has_torchvisions_params(n: int) -> None:
    reference = torchvision.models.get_model(f"efficientnet_b{n}", weights=None)
    assert scaled_b(n).analyze().params == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("n", sorted(COEFFICIENTS))
def test_library_file_equals_the_scaled_spec(n: int) -> None:
    """So the library test of efficientnet_bN (params, published MACs, outputs after transfer_weights against
    torchvision) holds for the scaled B0 too."""
    ours, library = scaled_b(n).network, load(f"efficientnet_b{n}").network
    for field in STRUCTURE:
        assert getattr(ours, field) == getattr(library, field), field


def test_depth_rounds_up_exactly() -> None:
    assert round_repeats(25, exact(2.2)) == 55
    assert round_repeats(3, exact(3.1)) == 10 and round_repeats(1, exact(1.1)) == 2


@pytest.mark.parametrize(("channels", "width", "expected"), [
    (32, 1.1, 32), (16, 1.1, 16), (40, 1.1, 48), (80, 1.1, 88), (1280, 1.1, 1408),  # B2, by hand
    (24, 1.4, 32), (40, 1.4, 56), (112, 1.4, 160), (320, 1.4, 448),  # B4
    (24, 0.25, 8), (100, 0.5, 48), (20, 0.5, 16)])  # floor at the divisor; never >10% below (10: 8 -> 16)
def test_channels_round_like_the_reference(channels: int, width: float, expected: int) -> None:
    assert round_channels(channels, exact(width), 8) == expected


def test_fixed_rows_do_not_scale(tmp_path: Path) -> None:
    text = (SPECS / "resnet50.yaml").read_text().replace("n: 3, s: 1}", "n: 3, s: 1, fixed: true}")
    spec = archspec.load(library_copy(tmp_path, "fixed-test", text))
    scaled, _ = scale(spec, Multipliers(depth=exact(2), width=exact(2)))
    rows = {row.name: row for row in scaled.network.stages}
    assert (rows["layer1"].n, rows["layer1"].args["c"]) == (3, 256)
    assert (rows["layer2"].n, rows["layer2"].args["c"]) == (8, 1024)


SCALABLE = ["resnet50", "densenet121", "efficientnet_b0", "googlenet", "vit_b_16"]


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(SCALABLE))
def test_scaling_by_one_is_the_identity(name: str) -> None:
    spec = load(name)
    scaled, achieved = scale(spec, Multipliers())
    for field in STRUCTURE:
        expected = getattr(spec.network, field)
        if field == "scaling" and expected is not None:  # a variants table is relative to the original: dropped
            expected = expected.model_copy(update={"variants": {}})
        assert getattr(scaled.network, field) == expected, field
    assert (achieved.depth, achieved.width, achieved.resolution) == (1.0, 1.0, 1.0)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(["resnet50", "efficientnet_b0", "densenet121"]),
       dimension=st.sampled_from(["depth", "width", "resolution"]),
       low=st.fractions(Fraction(3, 4), Fraction(3)), step=st.fractions(Fraction(0), Fraction(2)))
def test_macs_grow_monotonically_in_each_multiplier(name: str, dimension: str, low: Fraction,
                                                    step: Fraction) -> None:
    spec = load(name)
    small = scale(spec, Multipliers(**{dimension: low}))[0].analyze().macs
    large = scale(spec, Multipliers(**{dimension: low + step}))[0].analyze().macs
    assert small <= large


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(SCALABLE), depth=st.sampled_from([1, 1.5, 2]), width=st.sampled_from([0.5, 1, 1.3]),
       resolution=st.sampled_from([0.75, 1, 1.15]))
def test_scaled_spec_round_trips_through_yaml(tmp_path_factory, name: str, depth: float, width: float,
                                              resolution: float) -> None:
    spec = load(name)
    scaled, _ = scale(spec, Multipliers(exact(depth), exact(width), exact(resolution)))
    folder = tmp_path_factory.mktemp("roundtrip")
    again = archspec.load(library_copy(folder, name, dump_spec(scaled.network, spec.source.data)))
    assert again.network == scaled.network
    assert again.analyze().macs == scaled.analyze().macs


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "efficientnet_b0", "mobilenet_v1", "mobilenet_v2",
                                  "vgg16"])
@pytest.mark.parametrize("flag", [["--width", "2"], ["--resolution", "2"], ["--depth", "4"]])
def test_single_dimension_scaling_gives_valid_specs(tmp_path: Path, name: str, flag: list[str], capsys) -> None:
    out = tmp_path / f"{name}.yaml"
    assert main(["scale", str(SPECS / f"{name}.yaml"), *flag, "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    base = load(name).analyze()
    assert archspec.load(out).analyze().macs == data["macs"] > base.macs
    if flag[0] == "--width":  # convs' MACs grow with the product of in and out channels (depthwise: linearly)
        assert 3 <= data["macs"] / base.macs <= 4.2
    if flag[0] == "--resolution":
        assert data["macs"] / base.macs == pytest.approx(4, rel=0.1)


def test_phi_uses_the_specs_coefficients(capsys) -> None:
    assert main(["scale", str(SPECS / "efficientnet_b0.yaml"), "--phi", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    requested = data["scaling"]["requested"]
    assert requested["depth"] == pytest.approx(1.2**2) and requested["width"] == pytest.approx(1.1**2)
    assert requested["resolution"] == pytest.approx(1.15**2)
    assert data["scaling"]["expected_macs_ratio"] == 4
    assert yaml.safe_load(data["spec"])["input"]["resolution"] == round(224 * 1.15**2)


def test_search_finds_the_papers_coefficients_and_scores(tmp_path: Path, capsys) -> None:
    assert (1.2, 1.1, 1.15) in grid(2.0, 0.1, 0.05)
    command = f"{sys.executable} -c \"import sys; print('score', len(open(sys.argv[1]).read()))\""
    spec = library_copy(tmp_path, "efficientnet_b0", (SPECS / "efficientnet_b0.yaml").read_text())
    assert main(["scale", str(spec), "--search", "--step", "0.1", "--tolerance", "0.05",
                 "--score", command, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results and all(abs(r["alpha"] * r["beta"] ** 2 * r["gamma"] ** 2 - 2) <= 0.05 + 1e-9 for r in results)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and scores[0] > 100


def test_mobilenet_width_scaling_is_the_papers_width_multiplier() -> None:
    """Scaling MobileNet v1 by 0.5 gives the paper's 0.5 MobileNet-224 (Table 6: 149M mult-adds, 1.3M params)."""
    scaled, _ = scale(load("mobilenet_v1"), Multipliers(width=exact(0.5)))
    report = scaled.analyze()
    assert round(report.macs / 1e6) == 149 and round(report.params / 1e5) == 13
    direct = archspec.load(SPECS / "mobilenet_v1.yaml", variables={"width_mult": 0.5}).analyze()
    assert (report.params, report.macs) == (direct.params, direct.macs)


def test_width_reaches_convs_inside_repeat_bodies(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: r\ninput: {channels: 3, resolution: 8}\n"
                    "stem: [{repeat: 2, body: {op: conv, out: 16, kernel: 3, padding: 1}}]\n")
    spec = archspec.load(path)
    scaled, _ = scale(spec, Multipliers(width=exact(2)), divisor=8)
    # by hand: conv 3x3 3 -> 32 with bias, then 32 -> 32 (16 channels doubled, already a multiple of 8)
    assert scaled.analyze().params == (3 * 9 * 32 + 32) + (32 * 9 * 32 + 32)
    assert spec.analyze().params == (3 * 9 * 16 + 16) + (16 * 9 * 16 + 16)


def test_phi_says_when_it_borrows_efficientnets_coefficients(capsys) -> None:
    """ResNet-50 states no alpha, beta, gamma: --phi says it uses EfficientNet's (1.2, 1.1, 1.15) and how to choose;
    EfficientNet-B0's own, or all three flags, need no note."""
    assert main(["scale", str(SPECS / "resnet50.yaml"), "--phi", "1"]) == 0
    note = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert note == ["note: resnet50 states no compound coefficients (no scaling: {alpha, beta, gamma}), so --phi "
                    "uses EfficientNet's alpha 1.2, beta 1.1, gamma 1.15; give --alpha, --beta and --gamma to choose"]
    for command in (["scale", str(SPECS / "efficientnet_b0.yaml"), "--phi", "1"],
                    ["scale", str(SPECS / "resnet50.yaml"), "--phi", "1", "--alpha", "1.1", "--beta", "1.1",
                     "--gamma", "1.1"]):
        assert main(command) == 0
        assert "note:" not in capsys.readouterr().err


def test_search_lists_each_network_once_and_says_how_it_ranks(capsys) -> None:
    """Depth multipliers 1.95 and 2.0 round EfficientNet-B0's repeats alike: one row, with the other counted;
    without --score the line above the table says the ranking is closeness to the target alone."""
    spec = str(SPECS / "efficientnet_b0.yaml")
    assert main(["scale", spec, "--search", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    figures = [(r["params"], r["macs"]) for r in rows]
    assert len(figures) == len(set(figures))
    doubled = next(r for r in rows if r["beta"] == r["gamma"] == 1 and r["alpha"] in (1.95, 2.0))
    assert [doubled["alpha"], *doubled["same_network"][0]] in ([1.95, 2.0, 1, 1], [2.0, 1.95, 1, 1])
    assert main(["scale", spec, "--search", "--top", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "different networks" in first and "MACs ratio is to the target 2 alone" in first


def test_a_failing_score_command_is_one_line_of_its_own(capsys) -> None:
    spec = str(SPECS / "efficientnet_b0.yaml")
    assert main(["scale", spec, "--search", "--step", "0.1", "--tolerance", "0.05", "--score", "false"]) == 2
    assert capsys.readouterr().err.splitlines() == ["--score command exited 1 and printed no number: ''"]


def test_a_printed_scaled_spec_builds_in_the_working_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    """``scale specs/net.yaml --phi 1 > b1.yaml`` from a project folder: the imports resolve from where the
    shell wrote the file (they were written relative to specs/, as the original has them)."""
    project = tmp_path / "project"
    library_copy(project / "specs", "net", (SPECS / "efficientnet_b0.yaml").read_text())
    monkeypatch.chdir(project)
    assert main(["scale", "specs/net.yaml", "--phi", "1"]) == 0
    (project / "b1.yaml").write_text(capsys.readouterr().out)
    scaled = archspec.load(project / "b1.yaml")
    assert scaled.network.imports == ["specs/blocks/mobilenet.yaml"]
    assert scaled.analyze().params == scale(load("efficientnet_b0"), Multipliers.compound(1, scaled.network.scaling))[
        0].analyze().params


def test_a_scaled_spec_keeps_its_provenance(tmp_path: Path, capsys) -> None:
    """``scaled_from``: the original's name, content hash and torchvision twin (no longer this network's), and the
    multipliers asked for; in a file written elsewhere too."""
    original = load("efficientnet_b0")
    target = tmp_path / "elsewhere" / "b1.yaml"
    target.parent.mkdir()
    assert main(["scale", str(SPECS / "efficientnet_b0.yaml"), "--phi", "1", "-o", str(target)]) == 0
    scaled = archspec.load(target).network
    assert scaled.reference is None and scaled.scaled_from is not None
    provenance = scaled.scaled_from
    assert (provenance.name, provenance.content_hash) == ("efficientnet_b0", original.content_hash)
    assert provenance.reference == original.network.reference and provenance.phi == 1
    assert (provenance.depth, provenance.width, provenance.resolution) == pytest.approx((1.2, 1.1, 1.15))
    capsys.readouterr()
    assert main(["scale", str(SPECS / "resnet50.yaml"), "--width", "2", "--image-size", "160"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)["scaled_from"]
    assert printed["width"] == 2 and printed["image_size"] == 160 and "phi" not in printed


@pytest.mark.parametrize("variant", [f"b{i}" for i in range(1, 8)])
def test_variant_is_the_released_table_that_torchvision_builds(variant: str, tmp_path: Path) -> None:
    """scale efficientnet_b0 --variant bN is the library's efficientnet_bN, which equals torchvision's (params,
    MACs, input, dropout and norm settings); compound scaling with phi = N is not (B1: 9.1 M params, not 7.8 M)."""
    target = tmp_path / f"{variant}.yaml"
    assert main(["scale", str(SPECS / "efficientnet_b0.yaml"), "--variant", variant, "-o", str(target)]) == 0
    scaled, expected = archspec.load(target), load(f"efficientnet_{variant}")
    assert scaled.name == expected.name and scaled.network.variables == expected.network.variables
    ours, theirs = scaled.analyze(), expected.analyze()
    assert (ours.params, ours.macs, ours.input_shape) == (theirs.params, theirs.macs, theirs.input_shape)
    if variant == "b1":
        compound, _ = scale(load("efficientnet_b0"), Multipliers.compound(1, load("efficientnet_b0").network.scaling))
        assert compound.analyze().params != theirs.params


def test_variant_takes_no_other_scaling_flag_and_names_the_known_ones(capsys) -> None:
    spec = str(SPECS / "efficientnet_b0.yaml")
    assert main(["scale", spec, "--variant", "b3", "--phi", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("it takes no --phi")
    assert main(["scale", spec, "--variant", "b9"]) == 2
    assert "variants: b1, b2, b3, b4, b5, b6, b7" in capsys.readouterr().err
    assert main(["scale", str(SPECS / "resnet50.yaml"), "--variant", "b1"]) == 2
    assert "has no variant 'b1'" in capsys.readouterr().err
