"""Variant files: a spec made from another by setting its variables, and the located errors of bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec
from archspec.cli import main

BASE = """\
name: base
input: {channels: 3, resolution: 32}
variables: {num_classes: 10, width: 8}
stem:
  - {op: conv, out: $width, kernel: 3, bias: false}
  - {op: batchnorm}
  - {op: relu}
head:
  - {op: global_avgpool}
  - {op: flatten}
  - {op: linear, out: $num_classes}
"""
VARIANT = """\
extends: base
name: wide
description: twice the width
variables: {width: 16}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "wide.yaml").write_text(VARIANT)
    return tmp_path


def refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``archspec build`` prints for a spec it refuses (exit status 2)."""
    assert main(["build", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


def test_a_variant_is_its_base_with_the_variables_set(folder: Path) -> None:
    variant = archspec.load(folder / "wide.yaml")
    by_hand = archspec.load(folder / "base.yaml", variables={"width": 16})
    assert variant.name == "wide"
    assert variant.network.description == "twice the width"
    assert variant.file == str(folder / "wide.yaml")
    # 3x3x3x16 conv, BN 16 (+ 32 buffers and a count), linear 16 -> 10
    assert variant.analyze().params == 3 * 3 * 3 * 16 + 2 * 16 + 16 * 10 + 10
    assert variant.analyze().params == by_hand.analyze().params
    assert variant.analyze().macs == by_hand.analyze().macs


def test_a_variant_takes_overrides_like_its_base(folder: Path) -> None:
    variant = archspec.load(folder / "wide.yaml", num_classes=3)
    assert variant.analyze().params == 3 * 3 * 3 * 16 + 2 * 16 + 16 * 3 + 3


def test_an_unknown_variable_is_located_in_the_variant(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "bad.yaml"
    path.write_text(VARIANT.replace("{width: 16}", "{width: 16, depth: 3}"))
    assert refused(path, capsys) == \
        f"{path}:4:24: variables.depth: base has no 'depth' variable to set (variables: num_classes, width)"


def test_a_missing_base_is_located(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "bad.yaml"
    path.write_text(VARIANT.replace("extends: base", "extends: nowhere"))
    assert refused(path, capsys) == f"{path}:1:10: extends: no spec 'nowhere' beside this file (nowhere.yaml)"


def test_a_variant_of_a_variant_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "wider.yaml"
    path.write_text(VARIANT.replace("extends: base", "extends: wide").replace("name: wide", "name: wider"))
    assert refused(path, capsys) == \
        f"{path}:1:10: extends: extends a variant: a variant's base must be a whole spec"


def test_a_variant_cannot_replace_the_architecture(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "bad.yaml"
    path.write_text(VARIANT + "stem: []\n")
    assert refused(path, capsys).startswith(f"{path}:5:1: stem: unknown field")


def test_a_bad_value_is_located_in_the_variant(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "bad.yaml"
    path.write_text(VARIANT.replace("{width: 16}", "{width: 0}"))
    assert refused(path, capsys) == f"{path}:4:20: variables.width: must be >= 1, got 0"


def test_an_error_in_the_base_body_is_located_in_the_base(folder: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "base.yaml").write_text(BASE.replace("kernel: 3,", "kernel: 3, groups: $width // 2,"))
    path = folder / "wide.yaml"
    assert refused(path, capsys).startswith(f"{folder / 'base.yaml'}:5:5: stem[0]: ")


def test_every_library_variant_names_a_library_base() -> None:
    names = set(archspec.list_models())
    variants = {name: archspec.load(name) for name in names}
    bases = {spec.source.file for name, spec in variants.items() if spec.file != spec.source.file}
    assert bases, "the library has variants"
    assert {Path(base).stem for base in bases} <= names
