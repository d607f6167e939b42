"""Hostile command lines, outputs and external tools, each in a child process: one line on stderr, exit status 2,
no traceback, within the CPU and memory budget, and whatever was at the output path before is still there."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from archspec.cli import main
from tests.hostile_harness import assert_cheap, assert_intact, assert_refused, run_archspec

TINY = """name: tiny
input: {channels: 3, resolution: 224}
variables: {num_classes: 10}
stem:
  - {op: conv, out: 8, kernel: 3, stride: 2}
head:
  - {op: global_avgpool}
  - {op: flatten}
  - {op: linear, out: $num_classes}
"""
ZERO = "name: zero\ninput: {channels: 3, resolution: 8}\nstem:\n  - {op: relu}\n"
# 10,002 boxes at layer level, expanded: the input, the conv and two activations in each of 5,000 blocks
LONG = """name: long
input: {channels: 3, resolution: 8}
blocks:
  two:
    doc: two activations
    body: [{op: relu}, {op: relu}]
stem:
  - {op: conv, out: 4, kernel: 3}
stages:
  - {block: two, n: 5000}
"""
OLD = b"what was there before\n"
HUGE = "9" * 5000
BOMB = "[&a [x, x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], " \
       "&c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], " \
       "&e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d], [*e, *e, *e]]"  # 300,000 values written in 229 characters


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


RANGE = "must be > 0 and <= 100"
FLAG_CASES = [
    # --phi: finite, within -100..100, and no multiplier alpha^phi, beta^phi, gamma^phi above 100
    ("phi-nan", ["scale", "{spec}", "--phi", "nan"], "--phi must be a finite number, got nan"),
    ("phi-inf", ["scale", "{spec}", "--phi", "inf"], "--phi must be a finite number, got inf"),
    ("phi-minus-inf", ["scale", "{spec}", "--phi=-inf"], "--phi must be a finite number, got -inf"),
    ("phi-1e9", ["scale", "{spec}", "--phi", "1e9"], "--phi must be >= -100 and <= 100, got 1e9"),
    ("phi-1e6", ["scale", "{spec}", "--phi", "1e6"], "--phi must be >= -100 and <= 100, got 1e6"),
    ("phi-word", ["scale", "{spec}", "--phi", "two"], "--phi must be a number, got 'two'"),
    ("phi-50", ["scale", "{spec}", "--phi", "50"],
     "--phi 50 makes the depth multiplier alpha^phi = 1.2^50, above 100"),  # 1.2^50 = 9100
    ("phi-30-width", ["scale", "{spec}", "--phi", "30", "--alpha", "1", "--beta", "1.2"],
     "--phi 30 makes the width multiplier beta^phi = 1.2^30, above 100"),  # 1.2^30 = 237; 1.15^30 = 66
    ("phi-negative-gamma", ["scale", "{spec}", "--phi=-50", "--alpha", "1", "--beta", "1", "--gamma", "0.5"],
     "--phi -50 makes the resolution multiplier gamma^phi = 0.5^-50, above 100"),
    ("phi-with-depth", ["scale", "{spec}", "--phi", "5", "--depth", "100"],
     "--depth 100 with --phi 5 makes the depth multiplier 248.8, above 100"),  # 1.2^5 * 100 = 248.832
    ("alpha-nan", ["scale", "{spec}", "--phi", "1", "--alpha", "nan"], "--alpha must be a finite number, got nan"),
    ("beta-zero", ["scale", "{spec}", "--phi", "1", "--beta", "0"], f"--beta {RANGE}, got 0"),
    ("gamma-negative", ["scale", "{spec}", "--phi", "1", "--gamma=-1"], f"--gamma {RANGE}, got -1"),
    ("alpha-1e300", ["scale", "{spec}", "--alpha", "1e300"], f"--alpha {RANGE}, got 1e300"),
    ("depth-inf", ["scale", "{spec}", "--depth", "inf"], "--depth must be a finite number, got inf"),
    ("width-nan", ["scale", "{spec}", "--width", "NaN"], "--width must be a finite number, got NaN"),
    ("resolution-zero", ["scale", "{spec}", "--resolution", "0"], f"--resolution {RANGE}, got 0"),
    ("width-1e6", ["scale", "{spec}", "--width", "1e6"], f"--width {RANGE}, got 1e6"),
    # the scaled spec is checked like a spec file: located, one line (224 x 100 = 22,400 pixels)
    ("resolution-100", ["scale", "{spec}", "--resolution", "100"],
     "{spec}:2:34: input.resolution: after scaling, must be <= 16384, got 22400"),
    ("name-with-space", ["scale", "{spec}", "--name", "bad name!"],
     r"--name must match ^[A-Za-z0-9_.\-]+$, got 'bad name!'"),
    ("name-empty", ["scale", "{spec}", "--name", ""], r"--name must match ^[A-Za-z0-9_.\-]+$, got ''"),
    ("divisor-zero", ["scale", "{spec}", "--width", "2", "--divisor", "0"],
     "--divisor must be an integer from 1 to 1024, got 0"),
    ("divisor-huge", ["scale", "{spec}", "--divisor", "99999999999999999999"],
     "--divisor must be an integer from 1 to 1024, got 99999999999999999999"),
    ("image-size-float", ["scale", "{spec}", "--image-size", "2.5"], "--image-size must be an integer, got '2.5'"),
    # --search: the grid and the number of candidates to analyse are bounded
    ("step-nan", ["scale", "{spec}", "--search", "--step", "nan"], "--step must be a finite number, got nan"),
    ("step-zero", ["scale", "{spec}", "--search", "--step", "0"], "--step must be > 0 and <= 1, got 0"),
    ("step-tiny", ["scale", "{spec}", "--search", "--step", "0.001"],
     "--step 0.001 makes a grid of 1001^3 points; use a step of 0.01 or more"),
    ("step-many-candidates", ["scale", "{spec}", "--search", "--step", "0.01"],
     "--step 0.01 and --tolerance 0.1 give 10285 candidates to analyse, more than 1000; use a coarser --step or "
     "a smaller --tolerance"),
    ("target-inf", ["scale", "{spec}", "--search", "--target", "inf"], "--target must be a finite number, got inf"),
    ("tolerance-negative", ["scale", "{spec}", "--search", "--tolerance=-1"],
     "--tolerance must be >= 0 and <= 100, got -1"),
    ("no-candidates", ["scale", "{spec}", "--search", "--target", "50", "--tolerance", "0"],
     "no (alpha, beta, gamma) on a 0.05 grid lies within 0 of 50"),  # 2 * 2^2 * 2^2 = 32 at most
    ("top-zero", ["scale", "{spec}", "--search", "--top", "0"], "--top must be an integer from 1 to 1000000, got 0"),
    # integers: bounded, and a 5,000-digit one is neither converted nor echoed whole
    ("num-classes-zero", ["build", "{spec}", "--num-classes", "0"],
     "--num-classes must be an integer from 1 to 1000000, got 0"),
    ("num-classes-5000-digits", ["build", "{spec}", "--num-classes", HUGE],
     "--num-classes must be an integer from 1 to 1000000, got 999999999999999999999999... (5000 characters)"),
    ("num-classes-word-list", ["list", "{folder}", "--num-classes", "x"], "--num-classes must be an integer, got 'x'"),
    ("image-size-big", ["build", "{spec}", "--image-size", "16385"],
     "--image-size must be an integer from 1 to 16384, got 16385"),
    ("image-size-negative-draw", ["draw", "{spec}", "-o", "{folder}/x.svg", "--image-size=-1"],
     "--image-size must be an integer from 1 to 16384, got -1"),
    ("num-classes-compare", ["compare", "{spec}", "--num-classes", "1e3"],
     "--num-classes must be an integer, got '1e3'"),
    # sizes: finite, from 1 byte to 2^60
    ("memory-limit-inf", ["build", "{spec}", "--memory-limit", "inf"],
     "--memory-limit: expected a size from 1 byte to 1024P such as 8G or 512M, got 'inf'"),
    ("memory-limit-nan", ["export", "{spec}", "--onnx", "{folder}/x.onnx", "--memory-limit", "nanG"],
     "--memory-limit: expected a size from 1 byte to 1024P such as 8G or 512M, got 'nanG'"),
    ("memory-limit-negative", ["build", "{spec}", "--memory-limit=-1G"],
     "--memory-limit: expected a size from 1 byte to 1024P such as 8G or 512M, got '-1G'"),
    ("memory-limit-zero", ["build", "{spec}", "--memory-limit", "0"],
     "--memory-limit: expected a size from 1 byte to 1024P such as 8G or 512M, got '0'"),
    ("memory-limit-absurd", ["build", "{spec}", "--memory-limit", "2000P"],
     "--memory-limit: expected a size from 1 byte to 1024P such as 8G or 512M, got '2000P'"),
    # --opset: what torch's exporter writes as asked, refused before torch is loaded
    ("opset-20-digits", ["export", "{spec}", "--onnx", "{folder}/x.onnx", "--opset", "99999999999999999999"],
     "--opset must be an integer from 18 to 23, got 99999999999999999999"),
    ("opset-2e9", ["export", "{spec}", "--onnx", "{folder}/x.onnx", "--opset", "2000000000"],
     "--opset must be an integer from 18 to 23, got 2000000000"),
    ("opset-17", ["export", "{spec}", "--onnx", "{folder}/x.onnx", "--opset", "17"],
     "--opset must be an integer from 18 to 23, got 17"),  # torch writes 18 for it, with a traceback
    ("opset-word", ["export", "{spec}", "--onnx", "{folder}/x.onnx", "--opset", "nan"],
     "--opset must be an integer, got 'nan'"),
    # an empty value is a value: refused, never taken for the flag's absence
    ("empty-spec", ["build", ""], "expected the path of a file, got an empty name"),
    ("empty-weights", ["build", "{spec}", "--weights", ""], "expected the path of a file, got an empty name"),
    ("empty-head", ["build", "{spec}", "--head", ""], "expected the path of a file, got an empty name"),
    ("empty-freeze-until", ["build", "{spec}", "--freeze-until", ""],
     "{spec}:1:1: stages: no stage '' (stages: stem, head)"),  # no stages written: the file's start
]


@pytest.mark.parametrize(("args", "expected"), [pytest.param(a, e, id=i) for i, a, e in FLAG_CASES])
def test_bad_flags_are_one_line(tiny: Path, args: list[str], expected: str) -> None:
    fill = {"spec": str(tiny), "folder": str(tiny.parent)}
    outcome = run_archspec([a.format(**fill) for a in args], tiny.parent)
    assert_refused(outcome, expected.replace("{spec}", str(tiny)))
    assert not (tiny.parent / "x.onnx").exists() and not (tiny.parent / "x.svg").exists()


def test_memory_limit_from_the_environment_is_checked(tiny: Path) -> None:
    out = tiny.parent / "tiny.pt"
    out.write_bytes(OLD)
    outcome = run_archspec(["build", str(tiny), "-o", str(out)], tiny.parent, env={"ARCHSPEC_MEMORY_LIMIT": "inf"})
    assert_refused(outcome, "ARCHSPEC_MEMORY_LIMIT: expected a size from 1 byte to 1024P such as 8G or 512M, "
                            "got 'inf'")
    assert_intact(out, OLD)


def test_scaling_a_network_without_macs_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "zero.yaml"
    spec.write_text(ZERO)
    outcome = run_archspec(["scale", str(spec), "--phi", "1"], tmp_path)
    assert_refused(outcome, f"{spec}:1:1: cannot scale a network with 0 MACs and 0 parameters: scaling is "
                            "measured against them")


SET_CASES = [
    ("alias-bomb", f"num_classes={BOMB}", "--set num_classes: document expands to more than 200000 values "
                                          "(alias bomb?)"),
    ("nested-30000", "num_classes=" + "[" * 30000 + "]" * 30000,  # libyaml's own limit, at the 1001st bracket
     "--set num_classes: YAML syntax: exceeded maximum nesting depth"),
    ("python-tag", "num_classes=!!python/object/apply:os.system [true]",
     "--set num_classes: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("syntax", "num_classes=[1, 2", "--set num_classes: YAML syntax: did not find expected ',' or ']'"),
    ("mapping", "num_classes={a: 1}", "--set num_classes: expected a number, string, boolean or list, got '{a: 1}'"),
    ("empty", "num_classes=", "--set num_classes: expected a number, string, boolean or list, got ''"),
    ("no-equals", "num_classes", "--set expects NAME=VALUE, got 'num_classes'"),
    ("5000-digits", f"num_classes={HUGE}", "--set num_classes: must be an integer of at most 4000 digits"),
]


@pytest.mark.parametrize(("assignment", "expected"), [pytest.param(a, e, id=i) for i, a, e in SET_CASES])
def test_set_values_have_the_limits_of_spec_files(tiny: Path, assignment: str, expected: str) -> None:
    assert_refused(run_archspec(["build", str(tiny), "--set", assignment], tiny.parent), expected)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _file(path: Path) -> None:
    path.write_bytes(OLD)


def _symlink(path: Path) -> None:
    (path.parent / "elsewhere").write_bytes(OLD)
    path.symlink_to(path.parent / "elsewhere")


# (id, command before the output, output name below tmp_path, what to make there first, expected after 'cannot
# write PATH: ' or the whole line)
OUTPUT_CASES = [
    ("build-folder", ["build", "{spec}", "-o"], "x.pt", _folder, "it is a folder"),
    ("build-below-file", ["build", "{spec}", "-o"], "file.txt/x.pt", None, "'{tmp}/file.txt' is not a folder"),
    ("build-fifo", ["build", "{spec}", "-o"], "x.safetensors", _fifo, "it exists and is not a regular file"),
    ("draw-folder", ["draw", "{spec}", "-o"], "x.svg", _folder, "it is a folder"),
    ("draw-fifo", ["draw", "{spec}", "-o"], "x.dot", _fifo, "it exists and is not a regular file"),
    ("draw-symlink", ["draw", "{spec}", "-o"], "x.svg", _symlink,
     "it is a symbolic link (name the file it points to instead)"),
    ("draw-below-file", ["draw", "{spec}", "-o"], "file.txt/x.png", None, "'{tmp}/file.txt' is not a folder"),
    ("draw-long-name", ["draw", "{spec}", "-o"], "a" * 300 + ".svg", None, "the file name is longer than 255 bytes"),
    ("export-below-file", ["export", "{spec}", "--onnx"], "file.txt/x.onnx", None,
     "'{tmp}/file.txt' is not a folder"),
    ("export-folder", ["export", "{spec}", "--onnx"], "x.onnx", _folder, "it is a folder"),
    ("scale-folder", ["scale", "{spec}", "--width", "2", "-o"], "x.yaml", _folder, "it is a folder"),
    ("scale-symlink", ["scale", "{spec}", "--width", "2", "-o"], "x.yaml", _symlink,
     "it is a symbolic link (name the file it points to instead)"),
    ("scale-missing-folder", ["scale", "{spec}", "--width", "2", "-o"], "nowhere/x.yaml", None,
     "output folder '{tmp}/nowhere' does not exist"),
    ("plot-folder", ["plot", "{spec}", "-o"], "x.png", _folder, "it is a folder"),
    ("plot-fifo", ["plot", "{spec}", "-o"], "x.svg", _fifo, "it exists and is not a regular file"),
]


@pytest.mark.parametrize(("command", "name", "make", "expected"),
                         [pytest.param(c, n, m, e, id=i) for i, c, n, m, e in OUTPUT_CASES])
def test_unwritable_outputs_are_refused_before_the_work(tiny: Path, command: list[str], name: str, make, expected: str
                                                        ) -> None:
    tmp = tiny.parent
    (tmp / "file.txt").write_bytes(OLD)
    target = tmp / name
    if make is not None:
        make(target)
    outcome = run_archspec([*(c.format(spec=tiny) for c in command), str(target)], tmp)
    expected = expected.replace("{tmp}", str(tmp))
    line = expected if expected.startswith("output folder") else f"cannot write {str(target)!r}: {expected}"
    assert_refused(outcome, line)
    assert outcome.cpu_seconds < 1.5, "refused after the work, not before"  # torch alone takes 2 s to import
    assert (tmp / "file.txt").read_bytes() == OLD
    if make is _symlink:
        assert target.is_symlink() and (tmp / "elsewhere").read_bytes() == OLD
    elif make is _folder:
        assert target.is_dir() and not any(target.iterdir())
    elif make is _fifo:
        assert stat.S_ISFIFO(target.lstat().st_mode)
    else:  # nothing written, no temporary left (the name may be too long to test on its own)
        assert sorted(p.name for p in tmp.iterdir()) == ["file.txt", "tiny.yaml"]


def test_gallery_below_a_file_is_refused(tiny: Path) -> None:
    (tiny.parent / "file.txt").write_bytes(OLD)
    outcome = run_archspec(["gallery", str(tiny.parent), "--output-dir", str(tiny.parent / "file.txt")],
                           tiny.parent)
    assert_refused(outcome, f"cannot write into '{tiny.parent}/file.txt': it is not a folder")
    assert_intact(tiny.parent / "file.txt", OLD)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(tiny: Path) -> None:
    folder = tiny.parent / "ro"
    folder.mkdir()
    (folder / "x.yaml").write_bytes(OLD)
    folder.chmod(0o555)
    try:
        outcome = run_archspec(["scale", str(tiny), "--width", "2", "-o", str(folder / "x.yaml")], tiny.parent)
        assert_refused(outcome, f"cannot write '{folder}/x.yaml': the folder '{folder}' is not writable")
        assert_intact(folder / "x.yaml", OLD)
    finally:
        folder.chmod(0o755)


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tiny: Path, monkeypatch, capsys) -> None:
    target = tiny.parent / "scaled.yaml"
    target.write_bytes(OLD)

    def full(self: Path, *args, **kwargs) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["scale", str(tiny), "--width", "2", "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"cannot write {str(target)!r}: No space left on device\n"
    assert_intact(target, OLD)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_mode_open_would_give(tiny: Path, umask: int, mode: int) -> None:
    targets = [tiny.parent / "scaled.yaml", tiny.parent / "tiny.dot"]
    previous = os.umask(umask)  # the child inherits it
    try:
        scaled = run_archspec(["scale", str(tiny), "--width", "2", "-o", str(targets[0])], tiny.parent)
        drawn = run_archspec(["draw", str(tiny), "-o", str(targets[1])], tiny.parent)
    finally:
        os.umask(previous)
    for outcome, target in zip((scaled, drawn), targets, strict=True):
        assert_cheap(outcome)
        assert outcome.status == 0, outcome.stderr
        assert stat.S_IMODE(target.stat().st_mode) == mode


def _dot_names(dot_file: Path) -> tuple[list[str], list[tuple[str, str]]]:
    layout = json.loads(subprocess.run(["dot", "-Tjson", str(dot_file)], capture_output=True, check=True).stdout)
    names = [obj["name"] for obj in layout["objects"]]
    return names, [(names[e["tail"]], names[e["head"]]) for e in layout.get("edges", [])]


def test_block_names_reach_dot_as_escaped_html(tmp_path: Path) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text('name: odd\ninput: {channels: 3, resolution: 8}\nblocks:\n  \'<b>x:y\\"&\':\n'
                    "    doc: d\n    body: [{op: conv, out: 4, kernel: 3}]\nstages:\n  - {block: '<b>x:y\\\"&'}\n")
    out = tmp_path / "odd.dot"
    outcome = run_archspec(["draw", str(spec), "--level", "stage", "-o", str(out)], tmp_path)
    assert outcome.status == 0, outcome.stderr
    text = out.read_text()
    assert "<B>stage1: &lt;b&gt;x:y\\&quot;&amp;</B>" in text  # the block's name, as HTML text
    names, edges = _dot_names(out)
    assert names == ["cluster_legend", "input", "stage1", "legend"]  # no phantom node
    assert edges == [("input", "stage1")]


def test_node_names_are_literal_in_dot(tmp_path: Path) -> None:
    from archspec.backends.diagram import _Digraph

    dot = _Digraph("g")
    for name in ("a:b\\", "<c>", 'q"'):
        dot.node(name, tooltip="x")
    dot.edge("a:b\\", "<c>")
    dot.edge("<c>", 'q"')
    path = tmp_path / "g.dot"
    path.write_text(dot.source)
    names, edges = _dot_names(path)
    assert names == ["a:b\\\\", "<c>", 'q"']  # dot keeps an escaped backslash doubled in a name, as written
    assert edges == [("a:b\\\\", "<c>"), ("<c>", 'q"')]


def test_too_many_boxes_for_dot_are_refused_before_running_it(tmp_path: Path) -> None:
    spec = tmp_path / "long.yaml"
    spec.write_text(LONG)
    out = tmp_path / "long.svg"
    out.write_bytes(OLD)
    outcome = run_archspec(["draw", str(spec), "--expand", "--level", "layer", "-o", str(out)], tmp_path)
    assert_refused(outcome, "the diagram would have 10002 boxes, more than the 5000 that dot lays out in reasonable "
                            "time; try --level block or without --expand")
    assert_intact(out, OLD)


def _fake_dot(folder: Path, script: str) -> dict[str, str]:
    folder.mkdir()
    dot = folder / "dot"
    dot.write_text(f"#!/bin/sh\n{script}\n")
    dot.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}


def test_dots_own_error_is_condensed_to_one_line(tiny: Path) -> None:
    env = _fake_dot(tiny.parent / "bin", "echo 'Warning: something' >&2\necho 'Error: <stdin>: syntax error in "
                                         "line 3' >&2\necho '... near here ...' >&2\nexit 1")
    out = tiny.parent / "x.svg"
    outcome = run_archspec(["draw", str(tiny), "-o", str(out)], tiny.parent, env=env)
    assert_refused(outcome, "dot failed (exit status 1): Error: <stdin>: syntax error in line 3")
    assert_intact(out, None)


def test_missing_dot_is_one_line(tiny: Path) -> None:
    outcome = run_archspec(["draw", str(tiny), "-o", str(tiny.parent / "x.svg")], tiny.parent,
                           env={"PATH": str(tiny.parent / "empty")})
    assert_refused(outcome, "Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz)")


def test_dot_is_killed_after_its_time_limit(tmp_path: Path, monkeypatch) -> None:
    from archspec.backends.diagram import _Digraph, render
    from archspec.errors import RenderError

    monkeypatch.setenv("PATH", _fake_dot(tmp_path / "bin", "exec sleep 30")["PATH"])
    with pytest.raises(RenderError) as caught:
        render(_Digraph("g"), "svg", seconds=0.5)
    assert str(caught.value) == "dot did not finish within 0.5 s; try --level block or without --expand"


@pytest.mark.parametrize(("name", "shown"), [
    pytest.param("a\nb.yaml", "a\\nb.yaml", id="newline"),
    pytest.param("a\tb.yaml", "a\\tb.yaml", id="tab"),
    pytest.param("a\x1b[31mb.yaml", "a\\x1b[31mb.yaml", id="terminal-escape"),
])
def test_file_names_with_control_characters_print_on_one_line(tmp_path: Path, name: str, shown: str) -> None:
    (tmp_path / name).write_text("name: [\n")
    outcome = run_archspec(["build", name], tmp_path)
    assert_refused(outcome, f"{shown}:2:1: YAML syntax: did not find expected node content")


def test_missing_file_with_a_newline_is_one_line(tmp_path: Path) -> None:
    outcome = run_archspec(["table", "no\nsuch.yaml"], tmp_path)
    assert_refused(outcome, "no\\nsuch.yaml: cannot read file: No such file or directory")


def test_output_folder_with_a_newline_is_one_line(tiny: Path) -> None:
    outcome = run_archspec(["scale", str(tiny), "--width", "2", "-o", "x\ny/out.yaml"], tiny.parent)
    assert_refused(outcome, "output folder 'x\\ny' does not exist")


def test_each_failing_spec_of_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a\nb.yaml").write_text("name: [\n")
    (tmp_path / "ok.yaml").write_text(TINY)
    outcome = run_archspec(["list", str(tmp_path)], tmp_path)
    assert_cheap(outcome)
    assert outcome.status == 2
    assert outcome.stderr == f"{tmp_path}/a\\nb.yaml:2:1: YAML syntax: did not find expected node content\n"


def test_export_states_the_opset_it_wrote(tiny: Path, capsys) -> None:
    import onnx

    target = tiny.parent / "tiny.onnx"
    assert main(["export", str(tiny), "--onnx", str(target), "--opset", "20"]) == 0
    assert capsys.readouterr().out == (f"wrote {target}: ONNX opset 20, input 'input' of shape [batch, 3, 224, 224], "
                                       "output 'logits'\n")
    model = onnx.load(target)
    assert [(o.domain, o.version) for o in model.opset_import if o.domain == ""] == [("", 20)]
