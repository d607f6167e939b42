"""Hostile specs against the spec language and the IR builder, each run as ``archspec`` in a child process: expression
bombs and huge numbers, booleans where integers belong, non-finite floats, names that cannot be torch module names,
expansions past the node, item and nesting limits, analysis figures past 2**63. Each must end in exactly one located
line, exit status 2, cheaply (tests/hostile_harness.py). In-process checks of the Python API follow.

Expected lines are written by hand: ``§`` in a case's YAML marks the character the error must point at (the marker
is removed before the file is written, and its line and column are the expected place); the field path and message
are spelled out in full.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archspec
from archspec.errors import ArchspecError, GraphError, SpecError
from archspec.spec import names
from tests.hostile_harness import assert_cheap, assert_intact, assert_refused, run_archspec

HEADER = "name: t\ninput: {channels: 3, resolution: 8}\n"
MARK = "§"


def located(text: str) -> tuple[str, int, int]:
    """The text without its (one) marker, and the marker's 1-based line and column."""
    assert text.count(MARK) == 1, "one marker per case"
    before = text[:text.index(MARK)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return text.replace(MARK, "", 1), line, column


def refused(tmp_path: Path, text: str, path: str, message: str, *args: str) -> None:
    """Write ``text`` as t.yaml, run ``archspec build t.yaml ARGS`` and expect the one line at the marker."""
    body, line, column = located(text)
    (tmp_path / "t.yaml").write_text(body)
    where = f"{path}: " if path else ""
    assert_refused(run_archspec(["build", "t.yaml", *args], tmp_path), f"t.yaml:{line}:{column}: {where}{message}")


def stem(*items: str) -> str:
    """A spec whose stem is ``items`` (one per line, from line 4) and which has no stages."""
    return HEADER + "stem:\n" + "".join(f"  - {item}\n" for item in items)


# blocks whose parameter p{i} is a list of ten copies of p{i-1}: p1 holds 10 values, p4 10,000, p5 100,000
LIST_BOMB = HEADER + "blocks:\n  b:\n    doc: bomb\n    params:\n      p0: 1\n" + "".join(
    f"      p{i}: [{', '.join([f'$p{i - 1}'] * 10)}]\n" for i in range(1, 5)) + \
    "      p5: §[" + ", ".join(["$p4"] * 10) + "]\n    body: [{op: relu}]\nstem:\n  - {block: b}\n"
NESTED_EXPR_BOMB = HEADER + "variables: {a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\nblocks:\n  b:\n    doc: bomb\n" \
    "    params:\n      q: $[a, a, a, a, a, a, a, a, a, a]\n      r: $[q, q, q, q, q, q, q, q, q, q]\n" \
    "      s: §$[r, r, r, r, r, r, r, r, r, r, r]\n    body: [{op: relu}]\nstem:\n  - {block: b}\n"
INT_BOUND = "must be at most 2**63 in magnitude"
LONG_LITERAL = "must be an integer of at most 4000 digits"

EXPRESSIONS = [
    pytest.param(LIST_BOMB, "blocks.b.params.p5", "must hold at most 10000 values (nested lists counted) "
                 "(in stem.0, used at 15:5)", id="list-of-ten-copies-five-deep"),
    pytest.param(NESTED_EXPR_BOMB, "blocks.b.params.s", "must hold at most 10000 values (nested lists counted) "
                 "(in stem.0, used at 13:5)", id="expression-list-of-lists"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$10**18 * 10**18}"), "stem[0].out", INT_BOUND,
                 id="product-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$-(10**18) * 10}"), "stem[0].out", INT_BOUND,
                 id="negative-product-past-2**63"),
    pytest.param(HEADER + "variables: {a: 1000000}\nstem:\n  - {op: conv, kernel: 1, out: §$a*a*a*a*a*a}\n",
                 "stem[0].out", INT_BOUND, id="chained-products"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$9223372036854775807 + 9223372036854775807}"), "stem[0].out",
                 INT_BOUND, id="sum-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §'$round(1, -10**9)'}"), "stem[0].out",
                 "round(): ndigits must be an integer between -30 and 30, got -1000000000", id="round-huge-ndigits"),
    pytest.param(stem("{op: conv, kernel: 1, out: §'$round(1.5, 10**18)'}"), "stem[0].out",
                 "round(): ndigits must be an integer between -30 and 30, got 1000000000000000000",
                 id="round-huge-positive-ndigits"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$int(1e300)}"), "stem[0].out", INT_BOUND, id="int-of-1e300"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$ceil(1e300)}"), "stem[0].out", INT_BOUND, id="ceil-of-1e300"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$floor(-1e300)}"), "stem[0].out", INT_BOUND,
                 id="floor-of-minus-1e300"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$make_divisible(1e300)}"), "stem[0].out", INT_BOUND,
                 id="make-divisible-of-1e300"),
    pytest.param(stem("{op: conv, kernel: 1, out: §$int(float('inf'))}"), "stem[0].out",
                 "must be a finite number, got inf", id="float-inf-string"),
    pytest.param(stem("{op: dropout, p: §$float('nan')}"), "stem[0].p", "must be a finite number, got nan",
                 id="float-nan-string"),
    pytest.param(stem("{op: scale, factor: §$1e308 * 10}"), "stem[0].factor", "must be a finite number, got inf",
                 id="float-product-overflows-to-inf"),
    pytest.param(stem("{op: scale, factor: §$1e300 / 1e-300}"), "stem[0].factor",
                 "must be a finite number, got inf", id="float-quotient-overflows-to-inf"),
    pytest.param(stem("{op: conv, kernel: 1, out: §99999999999999999999}"), "stem[0].out", INT_BOUND,
                 id="decimal-literal-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §0xFFFFFFFFFFFFFFFFFFFF}"), "stem[0].out", INT_BOUND,
                 id="hex-literal-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §1:2:3:4:5:6:7:8:9:10:11:12}"), "stem[0].out", INT_BOUND,
                 id="base-60-literal-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §" + "9" * 3999 + "}"), "stem[0].out", INT_BOUND,
                 id="3999-digit-literal"),
    # past 4,000 digits the YAML reader refuses the literal itself (archspec/spec/source.py), before any bound
    pytest.param(stem("{op: conv, kernel: 1, out: §" + "9" * 5000 + "}"), "stem[0].out", LONG_LITERAL,
                 id="5000-digit-literal"),
    pytest.param(stem("{op: conv, kernel: 1, out: §" + ":".join(["59"] * 3000) + "}"), "stem[0].out", LONG_LITERAL,
                 id="3000-group-base-60-literal"),
    pytest.param(stem("{op: conv, kernel: 1, out: §0x" + "f" * 4000 + "}"), "stem[0].out", LONG_LITERAL,
                 id="4000-digit-hex-literal"),
    pytest.param(HEADER + "variables: {big: §123456789012345678901234567890}\nstem:\n  - {op: conv, kernel: 1, "
                 "out: $big}\n", "variables.big", INT_BOUND, id="variable-literal-past-2**63"),
    pytest.param(stem("{op: conv, kernel: 1, out: §16777217}"), "stem[0].out", "must be <= 16777216, got 16777217",
                 id="channels-past-2**24"),
    pytest.param(HEADER + "variables: {c: 4}\nstem:\n  - {op: conv, kernel: 1, out: §'$c > 1'}\n", "stem[0].out",
                 "must be an integer, got True", id="comparison-as-channels"),
    pytest.param(HEADER + "variables: {a: [" + ", ".join(["1"] * 5000) + "]}\nstem:\n"
                 "  - {op: conv, kernel: 1, out: §'$a[5000]'}\n", "stem[0].out",
                 "index 5000 is out of range for a list of 5000", id="index-past-a-long-list"),
    pytest.param(stem("{op: scale, factor: §.inf}"), "stem[0].factor", "must be a finite number, got inf",
                 id="literal-inf-attribute"),
    pytest.param(stem("{op: conv, kernel: 1, out: §'$len(range(10**18))'}"), "stem[0].out",
                 "range(): would hold 1000000000000000000 values, more than 10000", id="huge-range"),
    pytest.param(stem("{op: conv, kernel: 1, out: §'$sum([sum([1 for j in range(9999)]) for i in range(9999)])'}"),
                 "stem[0].out", "comprehensions take more than 10000 steps in one expression",
                 id="nested-comprehensions-past-the-step-budget"),
    pytest.param(stem("{op: conv, kernel: 1, out: §'$len([[i, i] for i in range(6000)])'}"), "stem[0].out",
                 "must hold at most 10000 values (nested lists counted)", id="comprehension-of-pairs"),
    pytest.param(HEADER + "variables: {a: §'$b + 1', b: '$2 * a'}\nstem:\n  - {op: conv, kernel: 1, out: $a}\n",
                 "variables.a", "variables refer to each other in a cycle: a -> b -> a", id="variable-cycle"),
    pytest.param(HEADER + "variables: {a: §'$a + 1'}\nstem:\n  - {op: relu}\n", "variables.a",
                 "variables refer to each other in a cycle: a -> a", id="variable-used-by-itself"),
    pytest.param(HEADER + "variables: {a: 2, b: §'$a if a == 4 else error(\"needs 4, got\", a)'}\nstem:\n"
                 "  - {op: relu}\n", "variables.b", "needs 4, got 2", id="error-function"),
    pytest.param(stem("{op: scale, factor: §$float32(1e39)}"), "stem[0].factor",
                 "must be a finite number, got inf", id="float32-past-its-range"),
    pytest.param(stem("{op: scale, factor: §$log(0)}"), "stem[0].factor", "log(): math domain error",
                 id="log-of-zero"),
]


@pytest.mark.parametrize(("text", "path", "message"), EXPRESSIONS)
def test_expressions_and_literals_are_bounded(tmp_path: Path, text: str, path: str, message: str) -> None:
    refused(tmp_path, text, path, message)


def _row(fields: str) -> str:
    return HEADER + f"stages:\n  - {{{fields}}}\n"


BOOL = "must be an integer, got True"
BOOLEANS = [
    pytest.param(HEADER.replace("channels: 3", "channels: §true"), "input.channels", id="input-channels"),
    pytest.param(HEADER.replace("resolution: 8", "resolution: §true"), "input.resolution", id="input-resolution"),
    pytest.param(HEADER.replace("resolution: 8", "resolution: [8, §true]"), "input.resolution[1]",
                 id="input-resolution-pair"),
    pytest.param(_row("op: relu, n: §true"), "stages[0].n", id="row-n"),
    pytest.param(_row("op: relu, repeats: §yes"), "stages[0].repeats", id="row-repeats-yaml11-yes"),
    pytest.param(_row("op: relu, s: §true"), "stages[0].s", id="row-stride"),
    pytest.param(_row("op: relu, resolution: §true"), "stages[0].resolution", id="row-resolution"),
    pytest.param(stem("{repeat: §true, body: {op: relu}}"), "stem[0].repeat", id="repeat"),
    pytest.param(stem("{op: conv, out: §true, kernel: 1}"), "stem[0].out", id="conv-out"),
    pytest.param(stem("{op: conv, out: 8, kernel: §true}"), "stem[0].kernel", id="conv-kernel"),
    pytest.param(stem("{op: conv, out: 8, kernel: 1, stride: §true}"), "stem[0].stride", id="conv-stride"),
    pytest.param(stem("{op: conv, out: 8, kernel: 1, groups: §true}"), "stem[0].groups", id="conv-groups"),
    pytest.param(stem("{op: conv, out: 8, kernel: 3, dilation: §true}"), "stem[0].dilation", id="conv-dilation"),
    pytest.param(stem("{op: conv, out: 8, kernel: 3, padding: §true}"), "stem[0].padding", id="conv-padding"),
    pytest.param(stem("{op: maxpool, kernel: §true}"), "stem[0].kernel", id="pool-kernel"),
    pytest.param(stem("{op: flatten}", "{op: linear, out: §true}"), "stem[1].out", id="linear-out"),
    pytest.param(stem("{op: slice, stop: §true}"), "stem[0].stop", id="slice-stop"),
    pytest.param(stem("{op: channel_shuffle, groups: §true}"), "stem[0].groups", id="shuffle-groups"),
    pytest.param(stem("{op: lrn, size: §true}"), "stem[0].size", id="lrn-size"),
    pytest.param(HEADER + "variables: {c: §true}\nstem:\n  - {op: conv, out: $c, kernel: 1}\n", "variables.c",
                 id="variable-used-as-channels"),
    pytest.param(HEADER + "scaling: {divisor: §true}\nstem:\n  - {op: relu}\n", "scaling.divisor",
                 id="scaling-divisor"),
    pytest.param(HEADER + "reported: {source: x, params: §true}\nstem:\n  - {op: relu}\n", "reported.params",
                 id="reported-params"),
    pytest.param(HEADER + "reference: {output: §true}\nstem:\n  - {op: relu}\n", "reference.output",
                 id="reference-output"),
]


@pytest.mark.parametrize(("text", "path"), BOOLEANS)
def test_booleans_are_not_integers(tmp_path: Path, text: str, path: str) -> None:
    refused(tmp_path, text, path, BOOL)


NON_FINITE = [
    pytest.param(HEADER + "scaling: {alpha: §.inf}\nstem:\n  - {op: relu}\n", "scaling.alpha", "inf",
                 id="scaling-alpha-inf"),
    pytest.param(HEADER + "scaling: {beta: §.nan}\nstem:\n  - {op: relu}\n", "scaling.beta", "nan",
                 id="scaling-beta-nan"),
    pytest.param(HEADER + "reported: {source: x, tolerance: §.nan}\nstem:\n  - {op: relu}\n", "reported.tolerance",
                 "nan", id="reported-tolerance-nan"),
    pytest.param(HEADER + "reported: {source: x, top1: §.inf}\nstem:\n  - {op: relu}\n", "reported.top1", "inf",
                 id="reported-top1-inf"),
    pytest.param(stem("{op: dropout, p: §.nan}"), "stem[0].p", "nan", id="dropout-p-nan"),
    pytest.param(stem("{op: batchnorm, eps: §.inf}"), "stem[0].eps", "inf", id="batchnorm-eps-inf"),
    pytest.param(stem("{op: leaky_relu, slope: §-.inf}"), "stem[0].slope", "-inf", id="leaky-slope-minus-inf"),
    pytest.param(HEADER + "variables: {f: §.nan}\nstem:\n  - {op: scale, factor: $f}\n", "variables.f", "nan",
                 id="variable-nan-used"),
]


@pytest.mark.parametrize(("text", "path", "got"), NON_FINITE)
def test_non_finite_floats_are_refused(tmp_path: Path, text: str, path: str, got: str) -> None:
    refused(tmp_path, text, path, f"must be a finite number, got {got}")


def _reserved(word: str, what: str = "an attribute of torch.nn.Module") -> str:
    return f"{word!r} is reserved ({what}); choose another name"


def _not_a_name(word: str) -> str:
    return f"{word!r} is not a module name (letters, digits and _, starting with a letter or digit)"


NAMES = [
    pytest.param(stem("{op: relu, name: §forward}"), "stem[0].name", _reserved("forward"), id="forward"),
    pytest.param(stem("{op: relu, name: §training}"), "stem[0].name", _reserved("training"), id="training"),
    pytest.param(stem("{op: relu, name: §eval}"), "stem[0].name", _reserved("eval"), id="eval"),
    pytest.param(stem("{op: relu, name: §state_dict}"), "stem[0].name", _reserved("state_dict"), id="state-dict"),
    pytest.param(stem("{op: relu, name: §T_destination}"), "stem[0].name", _reserved("T_destination"),
                 id="T-destination"),
    pytest.param(_row("name: §parameters, op: relu"), "stages[0].name", _reserved("parameters"),
                 id="stage-parameters"),
    pytest.param(_row("name: §graph, op: relu"), "stages[0].name",
                 _reserved("graph", "an attribute of torch.fx.GraphModule"), id="stage-graph"),
    pytest.param(stem("{seq: [{op: relu}], name: §modules}"), "stem[0].name", _reserved("modules"), id="seq-modules"),
    pytest.param(stem("{repeat: 2, name: §cuda, body: {op: relu}}"), "stem[0].name", _reserved("cuda"),
                 id="repeat-cuda"),
    pytest.param(stem("{residual: {op: relu}, name: §to}"), "stem[0].name", _reserved("to"), id="residual-to"),
    pytest.param(stem("{op: relu, name: §class}"), "stem[0].name", _reserved("class", "a Python keyword"),
                 id="keyword-class"),
    pytest.param(stem("{op: relu, name: §None}"), "stem[0].name", _reserved("None", "a Python keyword"),
                 id="keyword-None"),
    pytest.param(stem('{op: relu, name: §"x."}'), "stem[0].name", _not_a_name("x."), id="trailing-dot"),
    pytest.param(stem('{op: relu, name: §".x"}'), "stem[0].name", _not_a_name(".x"), id="leading-dot"),
    pytest.param(stem('{op: relu, name: §"a..b"}'), "stem[0].name", _not_a_name("a..b"), id="double-dot"),
    pytest.param(stem('{op: relu, name: §""}'), "stem[0].name", _not_a_name(""), id="empty"),
    pytest.param(stem("{op: relu, name: §_parameters}"), "stem[0].name", _not_a_name("_parameters"),
                 id="private-attribute"),
    pytest.param(stem('{op: relu, name: §"a:b\\\\"}'), "stem[0].name", _not_a_name("a:b\\"), id="graphviz-port"),
    pytest.param(_row('name: §"stage 1", op: relu'), "stages[0].name", _not_a_name("stage 1"), id="stage-space"),
    pytest.param(HEADER + "blocks:\n  b: {doc: x, body: [{op: relu, name: §eval}]}\nstem:\n  - {block: b}\n",
                 "blocks.b.body[0].name", _reserved("eval"), id="in-block-body"),
    pytest.param(stem("{op: relu, name: r}", "{repeat: 2, name: r, body: §{op: relu}}"), "stem[1].body",
                 "duplicate name 'stem.r' (the prefix of 'stem.r.0', already a node)", id="node-then-namespace"),
    pytest.param(stem("{repeat: 2, name: r, body: {op: relu}}", "§{op: relu, name: r}"), "stem[1]",
                 "duplicate name 'stem.r' (already the prefix of 'stem.r.0')", id="namespace-then-node"),
    pytest.param(stem("{op: relu, name: a}", "§{op: relu, name: a}"), "stem[1]", "duplicate name 'stem.a'",
                 id="same-name-twice"),
]


@pytest.mark.parametrize(("text", "path", "message"), NAMES)
def test_names_must_be_torch_module_names(tmp_path: Path, text: str, path: str, message: str) -> None:
    refused(tmp_path, text, path, message)


def _rows(count: int, row: str) -> str:
    return HEADER + "stages:\n" + f"  - {row}\n" * count


NESTED_BLOCKS = HEADER + "blocks:\n" + "".join(
    f"  b{i}: {{doc: x, body: [{{block: b{i + 1}}}]}}\n" for i in range(40)) + \
    "  b40: {doc: x, body: [{op: relu}]}\nstem:\n  - {block: b0}\n"
# each block's body nests 30 lists around the use of the next block: 31 items one inside the other per block, after
# the stem's own item; the 201st is b6's body nested 13 lists deep (#1 stem[0], #2 + 31 k b{k}'s body)
DEEP_BLOCKS = HEADER + "blocks:\n" + "".join(
    f"  b{i}: {{doc: x, body: {'[' * 30}{{block: b{i + 1}}}{']' * 30}}}\n" for i in range(10)) + \
    "  b10: {doc: x, body: [{op: relu}]}\nstem:\n  - {block: b0}\n"
EXPANSION = [
    # the first row fills 10,001 of the 20,000 nodes (the input is one); the second's first copy shows it would pass
    pytest.param(HEADER + "stages:\n  - {op: relu, n: 10000}\n  - {op: relu, n: §10000}\n"
                 + "  - {op: relu, n: 10000}\n" * 998,
                 "stages[1].n", "network expands to more than 20000 nodes (10000 repeats of 1)",
                 id="1000-rows-of-10000-relus"),
    pytest.param(HEADER + "stages:\n" + "  - {op: relu, n: 6000}\n" * 3 + "  - {op: relu, n: §6000}\n",
                 "stages[3].n", "network expands to more than 20000 nodes (6000 repeats of 1)",
                 id="second-row-passes-the-cap"),
    pytest.param(stem("{repeat: 10000, body: {repeat: §10000, body: {repeat: 10000, body: []}}}"),
                 "stem[0].body.repeat", "network expands to more than 100000 items (10000 repeats of 10001)",
                 id="nested-repeats-of-an-empty-body"),
    pytest.param(stem("{repeat: §10000, body: {seq: [[], [], [], [], [], [], [], [], [], [], []]}}"),
                 "stem[0].repeat", "network expands to more than 100000 items (10000 repeats of 12)",
                 id="repeat-of-empty-sequences"),
    pytest.param(HEADER + "blocks:\n  b: {doc: x, body: {repeat: 20, body: {op: relu}}}\n"
                 "  c: {doc: x, body: {repeat: 20, body: {block: b}}}\nstages:\n  - {block: c, n: §60}\n",
                 "stages[0].n", "network expands to more than 20000 nodes (60 repeats of 400)",
                 id="block-repeated-inside-repeats"),
    pytest.param(HEADER + "blocks:\n  b: {doc: x, body: [{op: relu}, {op: relu}]}\n"
                 "stem:\n  - {repeat: §100, body: {repeat: 100, body: {block: b}}}\n",
                 "stem[0].repeat", "network expands to more than 20000 nodes (100 repeats of 200)",
                 id="repeat-of-repeat-of-block"),
    # the first copy of each repeat adds no node, so nothing is predicted: 1 + 9,999 + 9,999 nodes, then the third
    # repeat's second copy is the 20,000th and its third would be the 20,001st, which the cap itself refuses
    pytest.param(HEADER + "stem:\n" + "  - {repeat: 10000, body: {op: relu, when: $index > 0}}\n" * 2
                 + "  - {repeat: 10000, body: §{op: relu, when: $index > 0}}\n",
                 "stem[2].body", "network expands to more than 20000 nodes",
                 id="hard-cap-when-the-first-copy-is-empty"),
    # b0 is used at depth 0, so b{k}'s body is expanded at depth k + 1: b31's use of b32 is the 33rd level
    pytest.param(NESTED_BLOCKS.replace("  b31: {doc: x, body: [{block", "  b31: {doc: x, body: [§{block"),
                 "blocks.b31.body[0]", "blocks nest deeper than 32", id="blocks-nest-too-deep"),
    pytest.param(DEEP_BLOCKS.replace("  b6: {doc: x, body: " + "[" * 13, "  b6: {doc: x, body: " + "[" * 13 + "§"),
                 "blocks.b6.body" + "[0]" * 13, "items nest deeper than 200 levels (blocks included) "
                 "(in stem.0.0.0.0.0.0.0, used at 16:5)", id="items-nest-too-deep-through-blocks"),
]


@pytest.mark.parametrize(("text", "path", "message"), EXPANSION)
def test_expansion_is_bounded_before_the_work(tmp_path: Path, text: str, path: str, message: str) -> None:
    refused(tmp_path, text, path, message)


# the valid spec: 20,000 convs of stride 2 on a 1x1 map, whose field stride would be 2**20000
TWENTY_THOUSAND_CONVS = HEADER.replace("channels: 3, resolution: 8", "channels: 1, resolution: 1") + "stem:\n" + \
    "  - {repeat: 10000, body: {op: conv, out: 1, kernel: 1, stride: 2, padding: 0}}\n" + \
    "  - {repeat: §10000, body: {op: conv, out: 1, kernel: 1, stride: 2, padding: 0}}\n"
STRIDE_BOMB = HEADER.replace("channels: 3, resolution: 8", "channels: 1, resolution: 1") + \
    "stem:\n  - {repeat: 100, body: §{op: conv, out: 1, kernel: 1, stride: 2, padding: 0}}\n"
MACS_BOMB = "name: t\ninput: {channels: 1, resolution: 16384}\nstem:\n  - {op: conv, out: 16777216, kernel: 1}\n" \
    "  - §{op: conv, out: 16777216, kernel: 1}\n"


@pytest.mark.parametrize(("text", "path", "message", "args"), [
    pytest.param(TWENTY_THOUSAND_CONVS, "stem[1].repeat",
                 "network expands to more than 20000 nodes (10000 repeats of 1)", (), id="20000-convs"),
    pytest.param(TWENTY_THOUSAND_CONVS, "stem[1].repeat",
                 "network expands to more than 20000 nodes (10000 repeats of 1)", ("--json",), id="20000-convs-json"),
    # after k convs of stride 2 the field's stride is 2**k: the 64th (stem.63) is the first past 2**63
    pytest.param(STRIDE_BOMB, "stem[0].body",
                 "stem.63 (conv): receptive-field size, stride or padding exceed 2**63", (), id="stride-2**64"),
    pytest.param(STRIDE_BOMB, "stem[0].body",
                 "stem.63 (conv): receptive-field size, stride or padding exceed 2**63", ("--json",),
                 id="stride-2**64-json"),
    # the first conv: 2**52 outputs x 1 input channel; the second: 2**52 outputs x 2**24 channels = 2**76 MACs
    pytest.param(MACS_BOMB, "stem[1]", "stem.1 (conv): params, buffers, MACs or other ops summed up to here "
                 "exceed 2**63", (), id="macs-2**76"),
])
def test_analysis_figures_are_bounded(tmp_path: Path, text: str, path: str, message: str,
                                      args: tuple[str, ...]) -> None:
    refused(tmp_path, text, path, message, *args)


def test_a_long_list_used_by_every_block_is_counted_once(tmp_path: Path) -> None:
    """A valid spec: 10,000 uses of a block whose parameter is a network variable of 9,999 values (counting the list
    at every use took 22 s)."""
    (tmp_path / "t.yaml").write_text(
        HEADER + "variables: {a: [" + ", ".join(["1"] * 9999) + "]}\nblocks:\n"
        "  b: {doc: x, params: {p: $a}, body: [{op: relu, when: false}]}\nstem:\n"
        "  - {repeat: 10000, body: {block: b}}\n")
    outcome = run_archspec(["build", "t.yaml", "--json"], tmp_path)
    assert_cheap(outcome)
    assert outcome.status == 0, outcome.stderr
    assert json.loads(outcome.stdout)["output_shape"] == [3, 8, 8]


@pytest.mark.parametrize(("item", "message"), [
    pytest.param("{op: relu, name: §forward}", _reserved("forward"), id="reserved"),
    pytest.param('{op: relu, name: §"x."}', _not_a_name("x."), id="not-a-name"),
])
def test_build_output_is_not_written_for_a_bad_name(tmp_path: Path, item: str, message: str) -> None:
    target = tmp_path / "x.pt"
    target.write_bytes(b"before")
    refused(tmp_path, stem(item), "stem[0].name", message, "-o", "x.pt")
    assert_intact(target, b"before")


# the Python API, in process


def _load(tmp_path: Path, text: str) -> archspec.Spec:
    (tmp_path / "t.yaml").write_text(text)
    return archspec.load(tmp_path / "t.yaml")


def test_api_refuses_a_reserved_name_when_loading(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, stem("{op: relu, name: forward}"))
    assert str(caught.value) == f"{tmp_path / 't.yaml'}:4:22: stem[0].name: {_reserved('forward')}"


@pytest.mark.parametrize(("items", "message"), [
    pytest.param(("{repeat: 2, name: r, body: {op: relu}}", "{op: relu, name: r}"),
                 "5:5: stem[1]: duplicate name 'stem.r' (already the prefix of 'stem.r.0')", id="namespace-then-node"),
    pytest.param(("{op: relu, name: r}", "{repeat: 2, name: r, body: {op: relu}}"),
                 "5:32: stem[1].body: duplicate name 'stem.r' (the prefix of 'stem.r.0', already a node)",
                 id="node-then-namespace"),
])
def test_api_build_refuses_colliding_module_names(tmp_path: Path, items: tuple[str, str], message: str) -> None:
    spec = _load(tmp_path, stem(*items))
    with pytest.raises(ArchspecError) as caught:
        spec.build()
    assert isinstance(caught.value, GraphError)
    assert str(caught.value) == f"{tmp_path / 't.yaml'}:{message}"


def test_report_of_large_figures_is_json(tmp_path: Path) -> None:
    """60 convs of stride 2 on a 1x1 map: a valid network whose field stride is 2**60 (below the bound)."""
    spec = _load(tmp_path, HEADER.replace("channels: 3, resolution: 8", "channels: 1, resolution: 1")
                 + "stem:\n  - {repeat: 60, body: {op: conv, out: 1, kernel: 1, stride: 2, padding: 0}}\n")
    data = json.loads(json.dumps(spec.analyze().to_dict()))
    assert data["receptive_field"]["stride"] == [2**60, 2**60]
    assert data["params"] == 60 * 2  # one weight and one bias each
    rows = json.loads(archspec.summary(spec, depth=None).to_json())["rows"]
    assert rows[-1]["receptive_field"]["stride"] == [2**60, 2**60] and rows[-1]["leaf"]


def test_reserved_names_are_torchs_public_module_attributes() -> None:
    """The spec language's list, kept without importing torch, against the installed torch."""
    torch = pytest.importorskip("torch")
    from torch import fx

    def public(*objects: object) -> set[str]:
        return {n for o in objects for n in [*dir(o), *getattr(o, "__dict__", {})] if not n.startswith("_")}

    module_attributes = public(torch.nn.Module, torch.nn.Module())
    graph_module = fx.GraphModule(torch.nn.Module(), fx.Graph())
    assert set(names.MODULE_ATTRIBUTES) == module_attributes
    assert set(names.GRAPH_MODULE_ATTRIBUTES) == public(fx.GraphModule, graph_module) - module_attributes
