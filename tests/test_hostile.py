"""Hostile input: mutated specs always end in archspec's own located error, never another exception or a hang;
unsafe YAML is refused; oversized networks are refused before anything is allocated."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from archspec.cli import main
from tests.fuzz import fuzz, located
from tests.library import SPECS
from tests.strategies import mutated_specs
from tests.test_properties import write  # also loads the hypothesis profiles


@given(data=mutated_specs())
def test_mutated_specs_fail_only_with_a_located_archspec_error(tmp_path_factory, data: dict[str, Any]) -> None:
    folder = tmp_path_factory.mktemp("m")
    path = write(folder / "m.yaml", data)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(["build", str(path)])  # any exception but archspec's own escapes main
    assert status in (0, 2), status
    if status == 2:
        assert err.getvalue().startswith(f"{path}:"), err.getvalue()
        assert located(err.getvalue(), folder), f"not one line 'file:line:column: ...' within {path}: {err.getvalue()}"


DEEP_PATH = ".".join(["notes", *(f"k{i}" for i in range(1, 65))])


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("name: !!python/object/apply:os.system ['true']",
                 "1:7: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed", id="python-object"),
    pytest.param("name: x\nstem: !!python/name:os.system",
                 "2:7: tag 'tag:yaml.org,2002:python/name:os.system' is not allowed", id="python-name"),
    pytest.param(  # the 200,001st value is the 8th x of the anchored list, located at that list (its anchor)
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d]\n"
        "f: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
        "1:4: f[6][2][0][1][8][7]: document expands to more than 200000 values (alias bomb?)", id="alias-bomb"),
    pytest.param("name: x\nstem: " + "[" * 5000 + "]" * 5000,  # libyaml's own limit: the 1001st bracket
                 "2:1006: YAML syntax: exceeded maximum nesting depth", id="flow-nesting"),
    pytest.param("name: x\nstem:\n" + "  [\n" * 2400 + "  ]\n" * 2400,
                 "1002:3: YAML syntax: exceeded maximum nesting depth", id="flow-nesting-by-lines"),
    pytest.param("name: x\nnotes:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 100)) + " " * 100 + "v",
                 f"66:65: {DEEP_PATH}: values nest deeper than 64 levels", id="block-nesting"),
])
def test_unsafe_yaml_is_refused_with_a_located_error(tmp_path: Path, text: str, expected: str, capsys) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    assert main(["build", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}:{expected}\n"


def test_oversized_file_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: x\nnotes: " + "x" * 2_000_000)
    assert main(["build", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: file is larger than 1000000 bytes\n"  # the whole file: no line


def test_network_above_the_memory_limit_is_refused_before_allocation(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ARCHSPEC_MEMORY_LIMIT", raising=False)
    spec = {"name": "huge", "input": {"channels": 3, "resolution": 8},
            "stem": [{"op": "conv", "out": 100_000, "kernel": 3}, {"op": "conv", "out": 100_000, "kernel": 3}]}
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "huge.pt"
    assert main(["build", str(path), "-o", str(out)]) == 2  # 90 billion weights: would need 335 GiB
    assert capsys.readouterr().err == (
        f"{path}:1:1: the network's weights (params + buffers) need 335.29 GiB, above the memory limit of 8.00 GiB "
        "(raise it with --memory-limit or ARCHSPEC_MEMORY_LIMIT)\n")
    assert not out.exists()
    assert main(["build", str(path), "--json"]) == 0  # analysing it allocates nothing and is fine


def test_fuzzer_runs_briefly_without_crashes_or_writes_into_the_library(tmp_path: Path) -> None:
    before = sorted((p, p.stat().st_mtime_ns) for p in SPECS.rglob("*"))
    counts = fuzz(minutes=1, seed=1, out=tmp_path / "crashes", max_inputs=500)  # the same 500 inputs every run
    assert counts["inputs"] == 500 and counts["crashes"] == 0, counts
    assert sorted((p, p.stat().st_mtime_ns) for p in SPECS.rglob("*")) == before
