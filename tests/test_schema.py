"""The JSON Schema that YAML editors use: generated, up to date, and in agreement with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

import archspec
from archspec.cli import main
from archspec.library import library_files
from archspec.spec.json_schema import blocks_schema, network_schema, schema_text, variant_schema
from tests.library import SPECS
from tests.test_malformed_specs import VALID, mutate


@pytest.fixture(scope="module")
def validators() -> tuple[Draft202012Validator, Draft202012Validator, Draft202012Validator]:
    """Validators for spec files, for block library files and for variant files."""
    for schema in (network_schema(), blocks_schema(), variant_schema()):
        Draft202012Validator.check_schema(schema)
    return (Draft202012Validator(network_schema()), Draft202012Validator(blocks_schema()),
            Draft202012Validator(variant_schema()))


@pytest.mark.parametrize(("file", "kind"), [("schema.json", "network"), ("blocks.schema.json", "blocks"),
                                            ("variant.schema.json", "variant")])
def test_schema_files_are_up_to_date(file: str, kind: str) -> None:
    assert (SPECS / file).read_text() == schema_text(kind), f"regenerate specs/{file} with `make schema`"


def test_cli_prints_the_schemas(capsys) -> None:
    for flags, schema in (([], network_schema()), (["--blocks"], blocks_schema()), (["--variant"], variant_schema())):
        assert main(["schema", *flags]) == 0
        assert json.loads(capsys.readouterr().out) == schema


def test_every_library_file_validates(validators) -> None:
    network, blocks, variant = validators
    for path in library_files(SPECS):
        data = yaml.safe_load(path.read_text())
        assert not list((variant if "extends" in data else network).iter_errors(data)), path
    for path in library_files(SPECS / "blocks"):
        assert not list(blocks.iter_errors(yaml.safe_load(path.read_text()))), path


@pytest.mark.parametrize(("old", "new", "valid"), [
    ("name: tiny\n", "name: tiny\ncolour: red\n", False),  # unknown top-level field
    ("n: 2, s: 1}", "n: 0, s: 1}", False),  # repeats must be >= 1
    ("{name: s2, block: unit,", "{name: s2,", False),  # a row needs a block (or op)
    ("  - {op: flatten}", "  - {flatten: true}", False),  # not an item
    ("{op: global_avgpool}", "{op: global_avgpol}", False),  # unknown primitive
    ("{name: s2, block: unit,", "{name: s2, op: unit,", True),  # the loader's alias spellings
    ("n: 2, s: 2}", "layers: 2, stride: 2}", True),
    ("  - {op: flatten}", "  - [{op: flatten}, {op: identity}]", True),  # a list is a sequence
])
def test_the_schema_agrees_with_the_loader(validators, tmp_path: Path, old: str, new: str, valid: bool) -> None:
    network, _, _ = validators
    assert network.is_valid(yaml.safe_load(VALID))
    text = mutate(old, new)
    assert network.is_valid(yaml.safe_load(text)) == valid
    (tmp_path / "tiny.yaml").write_text(text)
    try:
        archspec.load(tmp_path / "tiny.yaml")
    except archspec.SpecError:
        assert not valid
    else:
        assert valid
