"""Malformed specs: each gives one located line on stderr (file:line:column: field path: message) and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archspec.cli import main

VALID = """\
name: tiny
variables: {num_classes: 10}
input: {channels: 3, resolution: 32}
blocks:
  unit:
    doc: conv-bn-relu
    params: {c: null, stride: 1}
    body:
      - {op: conv, out: $c, kernel: 3, stride: $stride, bias: false}
      - {op: batchnorm}
      - {op: relu}
stem:
  - {op: conv, out: 16, kernel: 3}
stages:
  - {name: s1, block: unit, c: 16, n: 2, s: 1}
  - {name: s2, block: unit, c: 32, n: 2, s: 2}
head:
  - {op: global_avgpool}
  - {op: flatten}
  - {op: linear, out: $num_classes}
"""


def mutate(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


# (id, spec text, expected stderr after "<file>:")
CASES = [
    ("yaml-syntax", mutate("{op: flatten}", "{op: flatten"), "20:5: YAML syntax: did not find expected ',' or '}'"),
    ("yaml-duplicate-key", mutate("name: tiny\n", "name: tiny\nname: other\n"), "2:1: name: duplicate key 'name'"),
    ("yaml-python-tag", mutate("name: tiny", "name: !!python/object/apply:os.system [echo]"),
     "1:7: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("empty-file", "", "1:1: file is empty"),
    ("not-a-mapping", "- 1\n- 2\n", "1:1: a spec must be a mapping with at least a name"),
    ("unknown-top-level-field", mutate("stages:", "stagez:"), "14:1: stagez: unknown field (did you mean 'stages'?)"),
    ("missing-name", mutate("name: tiny\n", ""), "1:1: name: required field is missing"),
    ("bad-name", mutate("name: tiny", "name: 'tiny net'"), "1:7: name: must match ^[A-Za-z0-9_.\\-]+$, got 'tiny net'"),
    ("zero-stride", mutate("n: 2, s: 2}", "n: 2, s: 0}"), "16:45: stages[1].s: must be >= 1, got 0"),
    ("zero-repeats", mutate("c: 16, n: 2", "c: 16, n: 0"), "15:39: stages[0].n: must be >= 1, got 0"),
    ("negative-resolution", mutate("resolution: 32", "resolution: -5"),
     "3:34: input.resolution: must be >= 1, got -5"),
    # pydantic reports one error per member of ``int | tuple[int, int]``: the deepest (the tuple's item) is meant
    ("resolution-pair-item", mutate("resolution: 32", "resolution: [32, 0]"),
     "3:39: input.resolution[1]: must be >= 1, got 0"),
    ("wrong-type-channels", mutate("c: 32,", "c: thirty-two,"),
     "16:32: stages[1].c: must be an integer, got 'thirty-two' (in s2.0, used at 16:5)"),
    ("wrong-type-bias", mutate("bias: false", "bias: maybe"),
     "9:63: blocks.unit.body[0].bias: must be true or false, got 'maybe' (in s1.0, used at 15:5)"),
    ("zero-kernel", mutate("out: 16, kernel: 3}", "out: 16, kernel: 0}"), "13:33: stem[0].kernel: must be >= 1, got 0"),
    ("zero-in-a-kernel-pair", mutate("out: 16, kernel: 3}", "out: 16, kernel: [3, 0]}"),
     "13:37: stem[0].kernel[1]: must be >= 1, got 0"),
    ("boolean-in-a-kernel-pair", mutate("out: 16, kernel: 3}", "out: 16, kernel: [true, 3]}"),
     "13:34: stem[0].kernel[0]: must be an integer, got True"),
    ("unknown-op", mutate("{op: batchnorm}", "{op: batchnrom}"),
     "10:14: blocks.unit.body[1].op: unknown op 'batchnrom' (did you mean 'batchnorm'?)"),
    ("unknown-block", mutate("block: unit, c: 32", "block: unti, c: 32"),
     "16:23: stages[1].block: unknown block or op 'unti' (did you mean 'unit'?)"),
    ("unknown-op-attribute", mutate("out: 16, kernel: 3}", "out: 16, kernal: 3}"),
     "13:25: stem[0].kernal: op 'conv' has no parameter 'kernal' (did you mean 'kernel'?)"),
    ("unknown-block-argument", mutate("c: 16, n: 2", "cc: 16, n: 2"),
     "15:29: stages[0].cc: block 'unit' has no parameter 'cc' (did you mean 'c'?)"),
    ("missing-block-argument", mutate("c: 16, n: 2", "n: 2"), "15:5: stages[0]: block 'unit' needs parameter 'c'"),
    # a missing field has no position of its own: it is located at the nearest written ancestor (the row, the block)
    ("missing-row-block", mutate("{name: s2, block: unit, c: 32", "{name: s2, c: 32"),
     "16:5: stages[1].block: required field is missing"),
    ("missing-block-body", mutate("    body:\n      - {op: conv, out: $c, kernel: 3, stride: $stride, bias: false}\n"
                                  "      - {op: batchnorm}\n      - {op: relu}\n", ""),
     "6:5: blocks.unit.body: required field is missing"),
    ("unknown-name-in-expression", mutate("out: $c,", "out: $cc * 2,"),
     "9:25: blocks.unit.body[0].out: unknown name 'cc' (known: block_index, c, in_channels, in_dim, in_shape, in_size, "
     "num_blocks, num_classes, repeat_index, stage_index, stride) (in s1.0, used at 15:5)"),
    ("expression-syntax", mutate("out: $c,", "out: $c *,"),
     "9:25: blocks.unit.body[0].out: cannot parse expression 'c *' (in s1.0, used at 15:5)"),
    ("bad-merge", mutate("  - {op: flatten}\n", "  - {parallel: [[], []], merge: sum}\n  - {op: flatten}\n"),
     "19:33: head[1].merge: must be one of 'add', 'concat' or 'mul', got 'sum'"),
    ("item-without-kind", mutate("{op: flatten}", "{flatten: true}"),
     "19:5: head[1]: an item needs one of the keys op, block, seq, parallel, residual, repeat (or is a list)"),
    ("kernel-larger-than-input",
     mutate("resolution: 32", "resolution: 2").replace("kernel: 3}", "kernel: 5, padding: 0}"),
     "13:5: stem[0]: stem.0 (conv): kernel 5 (dilation 1) is larger than the padded input 2"),
    ("resolution-collapses", mutate("  - {op: global_avgpool}\n", "".join(
        "  - {op: maxpool, kernel: 2}\n" for _ in range(6)) + "  - {op: global_avgpool}\n"),
     "22:5: head[4]: maxpool_4 (maxpool): kernel 2 (dilation 1) is larger than the padded input 1"),
    ("concat-mismatch", mutate("  - {op: global_avgpool}\n", "  - {parallel: [[{op: maxpool, kernel: 2}], []], "
                                                             "merge: concat}\n  - {op: global_avgpool}\n"),
     "18:5: head[0]: concat (concat): concat needs shapes equal outside dim 0, got [32, 8, 8], [32, 16, 16]"),
    ("add-channel-mismatch", mutate("  - {op: global_avgpool}\n",
                                    "  - {residual: [{op: conv, out: 8, kernel: 1}]}\n  - {op: global_avgpool}\n"),
     "18:5: head[0]: add (add): add needs equal shapes, got [8, 16, 16] + [32, 16, 16]"),
    ("groups-do-not-divide", mutate("out: 16, kernel: 3}", "out: 16, kernel: 3, groups: 5}"),
     "13:5: stem[0]: stem.0 (conv): groups=5 must divide input channels 3 and out 16"),
    ("cyclic-blocks", mutate("      - {op: relu}\n", "      - {block: other, c: 4}\n  other:\n    doc: loops back\n"
                                                      "    params: {c: null}\n    body: [{block: unit, c: $c}]\n"),
     "11:9: blocks.unit.body[2]: blocks refer to each other in a cycle: unit -> other -> unit"),
    ("duplicate-item-names", mutate("{op: batchnorm}\n      - {op: relu}",
                                    "{op: batchnorm, name: x}\n      - {op: relu, name: x}"),
     "11:9: blocks.unit.body[2]: duplicate name 's1.0.x'"),
    ("duplicate-stage-names", mutate("name: s2", "name: s1"), "16:12: stages[1].name: duplicate stage name 's1'"),
    ("table-resolution-mismatch", mutate("name: s2,", "name: s2, resolution: 64,"),
     "16:28: stages[1].resolution: the table says resolution 64, but the input here is 32x32"),
    ("missing-import", mutate("input:", "imports: [blocks/none.yaml]\ninput:"),
     "3:11: imports[0]: block library 'blocks/none.yaml' not found"),
    ("missing-parallel-merge", mutate("  - {op: flatten}\n", "  - {parallel: [[], []]}\n  - {op: flatten}\n"),
     "19:5: head[1].merge: required field is missing"),
    ("missing-repeat-body", mutate("      - {op: relu}\n", "      - {op: relu}\n      - {repeat: 2}\n"),
     "12:9: blocks.unit.body[3].body: required field is missing"),
    ("control-character-after-non-ascii", mutate("name: tiny\n", "name: tiny\nnotes: \u00e9\x7f\n"),
     "2:9: YAML syntax: unacceptable character 127 (control characters are not allowed)"),
]
PARAMS = [pytest.param(text, expected, id=name) for name, text, expected in CASES]


@pytest.mark.parametrize(("text", "expected"), PARAMS)
def test_malformed_spec_gives_one_located_line(tmp_path: Path, capsys, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    output = tmp_path / "model.pt"
    status = main(["build", str(path), "-o", str(output)])
    err = capsys.readouterr().err
    assert status == 2
    assert err == f"{path}:{expected}\n"
    assert list(tmp_path.iterdir()) == [path], "nothing half-written"


def test_error_in_an_imported_library_is_located_in_that_file(tmp_path: Path, capsys) -> None:
    library = tmp_path / "lib.yaml"
    library.write_text("blocks:\n  unit:\n    params: {c: null}\n    body: [{op: conv, out: $c, kernel: 3}]\n")
    path = tmp_path / "s.yaml"
    path.write_text(mutate("input:", "imports: [lib.yaml]\ninput:"))
    assert main(["build", str(path)]) == 2
    assert capsys.readouterr().err == f"{library}:3:5: blocks.unit.doc: required field is missing\n"


def test_valid_base_spec_builds(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(VALID)
    assert main(["build", str(path)]) == 0


def test_cli_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(mutate("n: 2, s: 2}", "n: 2, s: 0}"))
    result = subprocess.run([sys.executable, "-m", "archspec.cli", "build", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}:16:45: stages[1].s: must be >= 1, got 0\n"


@pytest.mark.parametrize("argv", [["build"], ["build", "x.yaml", "--num-classes", "zero"], ["frobnicate"]])
def test_bad_command_lines_exit_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_override_without_variable_is_located(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(VALID.replace("variables: {num_classes: 10}\n", "").replace("$num_classes", "10"))
    assert main(["build", str(path), "--num-classes", "5"]) == 2
    assert capsys.readouterr().err == \
        f"{path}:1:1: variables: this spec has no 'num_classes' variable to override (variables: none)\n"
