"""Hostile files, each through the ``archspec`` command in a child process: special files (FIFOs, devices,
directories, sparse giants) as spec, import, ``--head``, ``--weights`` and inside a folder given to ``list`` or
``compare``; one library under many spellings; imports escaping their folders; literals past the digit limit;
field paths without union tags; weights of another dtype. Each case expects exactly one line, exit status 2,
bounded CPU time and memory, and a pre-existing output left intact."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile_harness import assert_cheap, assert_intact, assert_refused, run_archspec

LIB = "blocks:\n  unit:\n    doc: one conv\n    body: [{op: conv, out: 4, kernel: 3}]\n"
HEAD = "head: [{op: global_avgpool}, {op: flatten}, {op: linear, out: 2}]\n"


def spec_text(imports: str = "[]", stem: str = "[{op: conv, out: 4, kernel: 3}]") -> str:
    """A valid spec; ``imports`` at line 2, its first entry at column 11 (when written in flow style)."""
    return f"name: t\nimports: {imports}\ninput: {{channels: 3, resolution: 8}}\nstem: {stem}\n{HEAD}"


def importing(written: str) -> str:
    """A spec whose stem uses the ``unit`` block of the one library it imports, written as ``written``."""
    return spec_text(f'["{written}"]', "[{block: unit}]")


# makers of a hostile file at a path
def fifo(path: Path) -> None:
    os.mkfifo(path)


def folder(path: Path) -> None:
    path.mkdir()


def sparse(path: Path) -> None:
    path.touch()
    os.truncate(path, 2**31)  # 2 GB that take no disk


def oversized(path: Path) -> None:
    path.write_text("#" * 1_000_001)


def zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def null(path: Path) -> None:
    path.symlink_to("/dev/null")


def latin1(path: Path) -> None:
    path.write_bytes(b"name: caf\xe9\n")


def loop(path: Path) -> None:
    path.symlink_to(path.name)


def to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name("real.fifo"))
    path.symlink_to("real.fifo")


MAKERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (fifo, "not a regular file (a FIFO)"),
    "directory": (folder, "not a regular file (a directory)"),
    "sparse-2GB": (sparse, "file is larger than 1000000 bytes"),
    "one-byte-over": (oversized, "file is larger than 1000000 bytes"),
    "not-utf8": (latin1, "file is not UTF-8 text"),
    "symlink-loop": (loop, "cannot read file: Too many levels of symbolic links"),
    "symlink-to-fifo": (to_fifo, "not a regular file (a FIFO)"),
}
DEVICES = {"dev-zero": (zero, "not a regular file (a character device)"),
           "dev-null": (null, "not a regular file (a character device)")}


def run_refused(tmp_path: Path, args: list[str], expected: str, env: dict[str, str] | None = None) -> None:
    assert_refused(run_archspec(args, tmp_path, env), expected)


# --- special files as the spec, for each command that reads one -------------------------------------------------
@pytest.mark.parametrize("kind", [*MAKERS, *DEVICES, "missing"])
def test_special_file_as_spec(tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        reason = "cannot read file: No such file or directory"
    else:
        make, reason = {**MAKERS, **DEVICES}[kind]
        make(tmp_path / "s.yaml")
    run_refused(tmp_path, ["build", "s.yaml"], f"s.yaml: {reason}")


@pytest.mark.parametrize(("command", "output"), [(["draw", "s.yaml", "-o", "out.svg"], "out.svg"),
                                                 (["scale", "s.yaml", "--phi", "1", "-o", "out.yaml"], "out.yaml"),
                                                 (["table", "s.yaml"], None), (["build", "s.yaml", "--json"], None)],
                         ids=["draw", "scale", "table", "build-json"])
def test_fifo_as_spec_of_other_commands_leaves_the_output_alone(tmp_path: Path, command: list[str],
                                                                output: str | None) -> None:
    os.mkfifo(tmp_path / "s.yaml")
    if output:
        (tmp_path / output).write_bytes(b"before")
    run_refused(tmp_path, command, "s.yaml: not a regular file (a FIFO)")
    if output:
        assert_intact(tmp_path / output, b"before")


def test_a_unix_socket_as_spec(tmp_path: Path) -> None:
    import socket
    import tempfile

    short = Path(tempfile.mkdtemp(dir="/tmp"))  # a socket's path must stay below 108 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(short / "s.yaml"))
        run_refused(tmp_path, ["build", str(short / "s.yaml")], f"{short}/s.yaml: not a regular file (a socket)")


# --- special files as an import: located at the importing spec's entry -------------------------------------------
@pytest.mark.parametrize("kind", [*MAKERS, "missing", "dangling-symlink"])
def test_special_file_as_import(tmp_path: Path, kind: str) -> None:
    if kind in ("missing", "dangling-symlink", "symlink-loop"):  # a path that leads to no file is not found
        if kind != "missing":
            (tmp_path / "lib.yaml").symlink_to("lib.yaml" if kind == "symlink-loop" else "nowhere.yaml")
        suffix = " not found"
    else:
        make, reason = MAKERS[kind]
        make(tmp_path / "lib.yaml")
        suffix = f": {reason}"
    (tmp_path / "s.yaml").write_text(importing("lib.yaml"))
    run_refused(tmp_path, ["build", "s.yaml"], f"s.yaml:2:11: imports[0]: block library 'lib.yaml'{suffix}")


@pytest.mark.parametrize("device", ["zero", "null", "full", "urandom"])
def test_a_device_in_a_folder_named_by_archspec_path(tmp_path: Path, device: str) -> None:
    (tmp_path / "s.yaml").write_text(importing(device))
    run_refused(tmp_path, ["build", "s.yaml"],
                f"s.yaml:2:11: imports[0]: block library '{device}': not a regular file (a character device)",
                env={"ARCHSPEC_PATH": "/dev"})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_import(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(LIB)
    (tmp_path / "lib.yaml").chmod(0)
    (tmp_path / "s.yaml").write_text(importing("lib.yaml"))
    run_refused(tmp_path, ["build", "s.yaml"],
                "s.yaml:2:11: imports[0]: block library 'lib.yaml': cannot read file: Permission denied")


def test_the_second_of_several_imports_is_named(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(LIB)
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "s.yaml").write_text(spec_text('[lib.yaml, pipe.yaml]', "[{block: unit}]"))
    run_refused(tmp_path, ["build", "s.yaml"],
                "s.yaml:2:21: imports[1]: block library 'pipe.yaml': not a regular file (a FIFO)")


def test_an_error_inside_an_allowed_library_is_located_in_the_library(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "lib.yaml").write_text(LIB.replace("kernel: 3", "kernel: 0"))
    (tmp_path / "s.yaml").write_text(importing("libs/lib.yaml"))
    run_refused(tmp_path, ["build", "s.yaml"],
                "libs/lib.yaml:4:39: blocks.unit.body[0].kernel: must be >= 1, got 0 (in stem.0, used at s.yaml:4:8)")


# --- escapes: refused at the entry, the same words whether the foreign file exists or not -------------------------
OUTSIDE = "lies outside the folders a spec may import from (see ARCHSPEC_PATH)"


@pytest.mark.parametrize(("written", "exists"), [
    ("../secret.yaml", True), ("../secret.yaml", False), ("../../../../../../../../etc/passwd", True),
    ("/etc/passwd", True), ("/etc/no-such-file", False), ("/dev/zero", True), ("sub/../../secret.yaml", True),
    ("link.yaml", True), ("link.yaml", False), ("dirlink/secret.yaml", True),
], ids=["dotdot", "dotdot-missing", "dotdot-etc-passwd", "absolute-etc-passwd", "absolute-missing",
        "absolute-dev-zero", "down-then-up", "symlink-out", "symlink-out-dangling", "symlinked-folder-out"])
def test_an_import_escaping_the_spec_folder(tmp_path: Path, written: str, exists: bool) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    (home / "sub").mkdir()
    if exists:
        (tmp_path / "secret.yaml").write_text("root:x:0:0:root:/root:/bin/bash SECRET\n")
        (outside / "secret.yaml").write_text("root:x:0:0:root:/root:/bin/bash SECRET\n")
    (home / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    (home / "dirlink").symlink_to(outside)
    (home / "s.yaml").write_text(importing(written))
    outcome = run_archspec(["build", "s.yaml"], home)
    assert_refused(outcome, f"s.yaml:2:11: imports[0]: block library '{written}' {OUTSIDE}")
    assert "SECRET" not in outcome.stderr + outcome.stdout


def test_archspec_path_widens_what_a_spec_may_import(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lib.yaml").write_text(LIB)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "s.yaml").write_text(importing("../shared/lib.yaml"))
    run_refused(tmp_path / "home", ["build", "s.yaml"],
                f"s.yaml:2:11: imports[0]: block library '../shared/lib.yaml' {OUTSIDE}")
    outcome = run_archspec(["build", "s.yaml"], tmp_path / "home", env={"ARCHSPEC_PATH": str(tmp_path / "shared")})
    assert_cheap(outcome)
    assert outcome.status == 0, outcome.stderr


# --- one library under twenty spellings is parsed once -----------------------------------------------------------
def test_one_large_library_under_twenty_spellings_is_parsed_once(tmp_path: Path) -> None:
    doc = "a long description " * 24
    blocks = "".join(f"  b{i}:\n    doc: {doc}\n    body: [{{op: relu}}]\n" for i in range(1970))
    (tmp_path / "lib.yaml").write_text(f"blocks:\n{blocks}" + LIB.removeprefix("blocks:\n"))
    assert 950_000 < (tmp_path / "lib.yaml").stat().st_size < 1_000_000
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yaml").symlink_to("lib.yaml")
    here = str(tmp_path)
    spellings = ["lib.yaml", "./lib.yaml", "sub/../lib.yaml", "././lib.yaml", "sub/./../lib.yaml", ".//lib.yaml",
                 "sub/../sub/../lib.yaml", "./sub/../lib.yaml", "sub//../lib.yaml", "link.yaml", "./link.yaml",
                 "sub/../link.yaml", f"{here}/lib.yaml", f"{here}/./lib.yaml", f"{here}/sub/../lib.yaml",
                 f"{here}//lib.yaml", f"{here}/link.yaml", f"../{tmp_path.name}/lib.yaml",
                 f"../{tmp_path.name}/link.yaml", f"{here}/sub/../link.yaml"]
    assert len(set(spellings)) == 20
    (tmp_path / "s.yaml").write_text(spec_text("[" + ", ".join(f'"{s}"' for s in spellings) + "]", "[{block: unit}]"))
    outcome = run_archspec(["build", "s.yaml", "--json"], tmp_path)
    assert_cheap(outcome)
    assert outcome.status == 0, outcome.stderr


# --- special files as --head ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "directory", "sparse-2GB", "not-utf8", "dev-zero"])
def test_special_file_as_head(tmp_path: Path, kind: str) -> None:
    make, reason = {**MAKERS, **DEVICES}[kind]
    make(tmp_path / "h.yaml")
    (tmp_path / "s.yaml").write_text(spec_text())
    run_refused(tmp_path, ["build", "s.yaml", "--head", "h.yaml"], f"h.yaml: {reason}")


# --- a folder given to list, and compare: the special file is one line, the others are listed ----------------------
@pytest.mark.parametrize("kind", ["fifo", "directory", "sparse-2GB", "dev-zero"])
def test_special_file_in_a_listed_folder(tmp_path: Path, kind: str) -> None:
    make, reason = {**MAKERS, **DEVICES}[kind]
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "good.yaml").write_text(spec_text())
    make(tmp_path / "lib" / "bad.yaml")
    outcome = run_archspec(["list", "lib", "--json"], tmp_path)
    assert_refused(outcome, f"lib/bad.yaml: {reason}")
    assert '"name": "t"' in outcome.stdout


def test_fifo_given_to_compare(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(spec_text())
    os.mkfifo(tmp_path / "bad.yaml")
    outcome = run_archspec(["compare", "good.yaml", "bad.yaml"], tmp_path)
    assert_refused(outcome, "bad.yaml: not a regular file (a FIFO)")
    assert "t" in outcome.stdout


# --- integer literals past the digit limit: located at the scalar --------------------------------------------------
TOO_LONG = "must be an integer of at most 4000 digits"


@pytest.mark.parametrize("literal", [
    "9" * 4301, "9" * 4001, "-" + "9" * 4001, "1_" * 4100 + "1", "0x" + "f" * 4000, "0b" + "1" * 14000,
    "0" + "7" * 4800, ":".join(["59"] * 300_000),
], ids=["decimal-past-python-limit", "decimal", "negative", "underscores", "hex", "binary", "octal",
        "base-60-900KB"])
def test_integer_literal_too_long(tmp_path: Path, literal: str) -> None:
    (tmp_path / "s.yaml").write_text(spec_text().replace("name: t\n", f"name: t\nvariables: {{w: {literal}}}\n"))
    run_refused(tmp_path, ["build", "s.yaml"], f"s.yaml:2:16: variables.w: {TOO_LONG}")


def test_integer_key_too_long(tmp_path: Path) -> None:
    key = "9" * 4001
    (tmp_path / "s.yaml").write_text(spec_text().replace("name: t\n", f"name: t\nvariables:\n  ? {key}\n  : 1\n"))
    run_refused(tmp_path, ["build", "s.yaml"], f"s.yaml:3:5: variables: {TOO_LONG}")


# --- field paths name the data's own keys, never pydantic's union members ------------------------------------------
@pytest.mark.parametrize(("old", "new", "expected"), [
    ("name: t\n", "name: t\nvariables: {w: {a: 1}}\n", "2:16: variables.w: must be an integer, got {'a': 1}"),
    ("name: t\n", "name: t\npaper: {title: T, year: {a: 1}}\n", "2:25: paper.year: must be an integer, got {'a': 1}"),
    ("name: t\n", "name: t\nreported: {source: S, params: {a: 1}}\n",
     "2:31: reported.params: must be an integer, got {'a': 1}"),
    ("resolution: 8", "resolution: {a: 1}", "3:34: input.resolution: must be an integer, got {'a': 1}"),
    ("resolution: 8", "resolution: [8, {a: 1}]", "3:38: input.resolution[1]: must be an integer, got {'a': 1}"),
    ("stem: [{op: conv, out: 4, kernel: 3}]\n",
     "stem: [{op: conv, out: 4, kernel: 3}]\nstages: [{name: s1, op: relu, n: {a: 1}}]\n",
     "5:34: stages[0].n: must be an integer, got {'a': 1}"),
    ("stem: [{op: conv, out: 4, kernel: 3}]\n",
     "stem: [{op: conv, out: 4, kernel: 3}]\nstages: [{name: s1, op: relu, s: [1]}]\n",
     "5:34: stages[0].s: must be an integer, got [1]"),
    ("stem: [{op: conv, out: 4, kernel: 3}]\n",
     "stem: [{op: conv, out: 4, kernel: 3}]\nstages: [{name: s1, op: relu, when: [1]}]\n",
     "5:37: stages[0].when: must be true or false, got [1]"),
    ("kernel: 3", "kernel: {a: 1}", "4:35: stem[0].kernel: must be an integer, got {'a': 1}"),
], ids=["variables", "paper-year", "reported-params", "input-resolution", "resolution-pair", "stage-n", "stage-s",
        "stage-when", "op-kernel"])
def test_field_path_has_no_union_tag(tmp_path: Path, old: str, new: str, expected: str) -> None:
    (tmp_path / "s.yaml").write_text(spec_text().replace(old, new, 1))
    run_refused(tmp_path, ["build", "s.yaml"], f"s.yaml:{expected}")


# --- quoted input is cut, so no message carries a whole line of a file ---------------------------------------------
def test_a_long_wrong_value_is_quoted_cut(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(spec_text().replace("resolution: 8", f"resolution: {'x' * 5000}"))
    run_refused(tmp_path, ["build", "s.yaml"],
                f"s.yaml:3:34: input.resolution: must be an integer, got '{'x' * 56}...")


def test_an_allowed_file_that_is_no_library_is_quoted_cut(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text("root:x:0:0:root:/root:/bin/bash and the rest of a long line of text\n")
    (tmp_path / "s.yaml").write_text(importing("lib.yaml"))
    run_refused(tmp_path, ["build", "s.yaml"],
                "lib.yaml:1:1: must be a mapping, got 'root:x:0:0:root:/root:/bin/bash and the rest of a long l...")


# --- weights: special files, foreign files, another dtype (these build the module: a few seconds each) -------------
def weights_file(tmp_path: Path, dtype: str | None) -> None:
    """Weights saved for spec_text() (its hash copied), converted to ``dtype`` when given."""
    import torch
    from safetensors.torch import load_file, save_file

    import archspec

    spec = archspec.load(tmp_path / "s.yaml")
    archspec.save_weights(spec.build(), tmp_path / "w.safetensors")
    if dtype:
        from safetensors import safe_open

        with safe_open(tmp_path / "w.safetensors", framework="pt") as handle:
            metadata = handle.metadata()
        tensors = {name: t.to(getattr(torch, dtype)) for name, t in load_file(tmp_path / "w.safetensors").items()}
        save_file(tensors, tmp_path / "w.safetensors", metadata=metadata)


@pytest.mark.parametrize(("kind", "expected"), [
    ("fifo", "not a regular file (a FIFO)"), ("directory", "not a regular file (a directory)"),
    ("dev-zero", "not a regular file (a character device)"),
    ("sparse-2GB", "cannot read safetensors weights: Error while deserializing header: invalid JSON in header"),
    ("text", "cannot read safetensors weights: Error while deserializing header: header too large"),
    ("float16", "the weights do not fit the model: first mismatching tensor: 'stem.0.weight' is float16 in the file "
                "but float32 in the model"),
    ("int64", "the weights do not fit the model: first mismatching tensor: 'stem.0.weight' is int64 in the file but "
              "float32 in the model"),
])
def test_hostile_weights(tmp_path: Path, kind: str, expected: str) -> None:
    (tmp_path / "s.yaml").write_text(spec_text())
    if kind in ("float16", "int64"):
        weights_file(tmp_path, kind)
    elif kind == "text":
        (tmp_path / "w.safetensors").write_text("root:x:0:0:root:/root:/bin/bash\n")
    else:
        {**MAKERS, **DEVICES}[kind][0](tmp_path / "w.safetensors")
    (tmp_path / "out.pt").write_bytes(b"before")
    run_refused(tmp_path, ["build", "s.yaml", "--weights", "w.safetensors", "-o", "out.pt"],
                f"w.safetensors: {expected}")
    assert_intact(tmp_path / "out.pt", b"before")
