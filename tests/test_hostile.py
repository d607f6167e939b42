"""Hostile input: mutated specs always end in archspec's own located error, never another exception or a hang;
unsafe YAML is refused; oversized networks are refused before anything is allocated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

import archspec
from archspec.cli import main
from tests.strategies import mutated_specs
from tests.test_properties import write  # also loads the hypothesis profiles


@given(data=mutated_specs())
def test_mutated_specs_fail_only_with_a_located_archspec_error(tmp_path_factory, data: dict[str, Any]) -> None:
    path = write(tmp_path_factory.mktemp("m") / "m.yaml", data)
    try:
        spec = archspec.load(path)
        spec.analyze()
    except archspec.ArchspecError as exc:
        assert exc.location is not None and exc.location.file == str(path) and exc.location.line > 0, str(exc)
        assert "\n" not in str(exc)


@pytest.mark.parametrize("text", [
    "name: !!python/object/apply:os.system ['true']",
    "name: x\nstem: !!python/name:os.system",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
    "name: x\nstem: " + "[" * 5000 + "]" * 5000,
    "name: x\nstem:\n" + "  [\n" * 2400 + "  ]\n" * 2400,  # shallow enough to compose, then refused while building
    "name: x\nnotes:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 100)) + " " * 100 + "v",
])
def test_unsafe_yaml_is_refused_with_a_located_error(tmp_path: Path, text: str, capsys) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    assert main(["build", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:") and err.count("\n") == 1


def test_oversized_file_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: x\nnotes: " + "x" * 2_000_000)
    assert main(["build", str(path)]) == 2
    assert "larger than" in capsys.readouterr().err


def test_network_above_the_memory_limit_is_refused_before_allocation(tmp_path: Path, capsys) -> None:
    spec = {"name": "huge", "input": {"channels": 3, "resolution": 8},
            "stem": [{"op": "conv", "out": 100_000, "kernel": 3}, {"op": "conv", "out": 100_000, "kernel": 3}]}
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "huge.pt"
    assert main(["build", str(path), "-o", str(out)]) == 2  # 90 billion weights: would need 335 GiB
    err = capsys.readouterr().err
    assert "GiB, above the memory limit" in err and not out.exists()
    assert main(["build", str(path), "--json"]) == 0  # analysing it allocates nothing and is fine


def test_fuzzer_runs_briefly_without_crashes(tmp_path: Path) -> None:
    from tests.fuzz import fuzz

    counts = fuzz(minutes=0.1, seed=1, out=tmp_path / "crashes")
    assert counts["inputs"] > 10 and counts["crashes"] == 0, counts
