"""The expression language's comprehensions and list functions, and variables that are expressions of others,
against Python's own evaluation of the same text."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.cli import main
from archspec.errors import FieldPath, Location, Site, SpecError
from archspec.ir.scope import BODY_NAMES
from archspec.spec.expr import ExprError, resolve
from archspec.spec.variables import resolve_variables
from tests.library import SPECS, library_copy


class Unread:
    """A stand-in for a spec file: places are their field paths."""

    def locate(self, path: FieldPath) -> Location:
        """The place, without line and column."""
        return Location("spec.yaml", path=path)


def origins(*names: str) -> dict[str, Site]:
    """Each variable's place in a spec file."""
    return {name: Site(Unread(), ("variables", name)) for name in names}


SCOPE = {"ws": [48, 104, 104, 208, 208, 208], "d": 6, "wa": 27.89}


@pytest.mark.parametrize("text", [
    "[2 * w for w in ws]", "[i * wa + 48 for i in range(d)]", "len(ws)", "sum(ws)", "sum([])",
    "[w // 8 for w in ws][2]", "[[i, 2 * i] for i in range(3)]", "max([w - 100 for w in ws])",
    "[i for i in range(2, 11, 3)]",
])
def test_comprehensions_and_list_functions_agree_with_python(text: str) -> None:
    assert resolve("$" + text, SCOPE) == eval(text, dict(SCOPE))


def test_count_and_unique_are_repeats_and_distinct_values_in_order() -> None:
    assert resolve("$unique(ws)", SCOPE) == [48, 104, 208]
    assert resolve("$[count(ws, w) for w in unique(ws)]", SCOPE) == [1, 2, 3]


def test_float32_rounds_as_numpy_does() -> None:
    for value in (27.89, 0.1, 2.09, 1e-40, 3.4e38):
        assert resolve(f"$float32({value})", {}) == float(np.float32(value))
        assert resolve(f"$float32({value})", {}) == struct.unpack("f", struct.pack("f", value))[0]


def test_log_is_the_natural_logarithm() -> None:
    assert resolve("$log(2.718281828459045)", {}) == 1.0


@pytest.mark.parametrize(("text", "message"), [
    ("[w for w in 3]", "a comprehension loops over a list, got 3"),
    ("[w for w in ws if w > 50]", "a comprehension takes one 'for NAME in LIST' and no 'if'"),
    ("[v for w in ws for v in ws]", "a comprehension takes one 'for NAME in LIST' and no 'if'"),
    ("[a for a, b in ws]", "a comprehension takes one 'for NAME in LIST' and no 'if'"),
    ("range(1.5)", "range(): takes one to three integers (stop; start, stop; start, stop, step)"),
    ("range(0, 10**6, 1)", "range(): would hold 1000000 values, more than 10000"),
    ("len(3)", "len(): expected a list, got 3"),
    ("sum(['a'])", "sum(): expected a number, got 'a'"),
    ("error('no', 4)", "no 4"),
    ("w", "unknown name 'w' (known: d, wa, ws)"),
])
def test_bad_uses_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ExprError) as info:
        resolve("$" + text, SCOPE)
    assert str(info.value) == message


def test_each_evaluation_has_its_own_step_budget() -> None:
    for _ in range(3):  # 3 x 9,000 steps in three evaluations: none over 10,000
        assert resolve("$len([i for i in range(9000)])", {}) == 9000


def test_variables_are_evaluated_after_those_they_use() -> None:
    variables = {"widths": "$[w * 2 for w in base]", "n": "$len(widths)", "base": [1, 2, 3], "w": 5}
    assert resolve_variables(variables, origins(*variables)) == {"widths": [2, 4, 6], "n": 3, "base": [1, 2, 3], "w": 5}


def test_a_comprehension_name_is_not_a_dependency() -> None:
    variables = {"w": "$[w for w in range(2)]"}  # binds w itself: no cycle
    assert resolve_variables(variables, origins("w")) == {"w": [0, 1]}


def test_a_variable_cycle_is_an_error_at_a_variable_of_it() -> None:
    variables = {"x": 1, "a": "$c", "b": "$a + x", "c": "$b"}
    with pytest.raises(SpecError) as info:
        resolve_variables(variables, origins(*variables))
    assert str(info.value) == "spec.yaml: variables.a: variables refer to each other in a cycle: a -> b -> c -> a"


def test_regnet_parameters_giving_other_than_four_stages_are_one_located_line(tmp_path: Path, capsys) -> None:
    text = (SPECS / "regnet_y_400mf.yaml").read_text().replace("  d: 16 ", "  d: 8  ")  # 8 blocks: 3 widths
    path = library_copy(tmp_path, "regnet_y_400mf", text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("  stage_count:"))
    column = text.splitlines()[line - 1].index('"') + 1
    assert main(["build", str(path)]) == 2
    assert capsys.readouterr().err == (f"{path}:{line}:{column}: variables.stage_count: the parameters give 3 "
                                       "stages, not 4\n")


def test_a_block_body_sees_the_documented_names_and_no_others(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "name: t\ninput: {channels: 3, resolution: 8}\nvariables: {v: 1}\nblocks:\n  b:\n    doc: d\n"
        "    params: {p: 2}\n    body: [{op: conv, kernel: 1, out: $nothing}]\nstages:\n  - {block: b}\n")
    with pytest.raises(SpecError) as info:
        archspec.load(tmp_path / "t.yaml").graph()
    known = str(info.value).split("(known: ")[1].split(")")[0].split(", ")
    assert sorted(known) == sorted([*BODY_NAMES, "v", "p"])
