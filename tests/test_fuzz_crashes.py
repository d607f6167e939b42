"""Every crash the fuzzer ever found (tests/fuzz_crashes/, minimised) ends as archspec promises: exit status 0, or
2 with one located line, cheaply, in a child process. Each file starts with comments: the command-line arguments
(``# args:``, JSON), the crash as found (``# crash:``), and what is expected instead (``# expect: exit 0``, or
``# expect: exit 2`` with the place ``at LINE:COLUMN: field.path`` where the offending value is written)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fuzz import INPUT, hostile_library, verdict
from tests.hostile_harness import assert_cheap, run_archspec

CRASHES = sorted((Path(__file__).parent / "fuzz_crashes").glob("*.yaml"))
EXPECT = re.compile(r"exit (?P<status>[02])(?: at (?P<place>.+))?")


def header(text: str, key: str) -> str:
    """The value of the ``# key:`` comment line at the top of a crash file."""
    prefix = f"# {key}: "
    return next(line[len(prefix):] for line in text.split("\n") if line.startswith(prefix))


@pytest.mark.parametrize("crash", CRASHES, ids=[path.stem for path in CRASHES])
def test_fuzz_crash_ends_in_one_located_line_or_success(tmp_path: Path, crash: Path) -> None:
    library = hostile_library(tmp_path)
    text = crash.read_text(encoding="utf-8").replace("{library}", str(library))
    args = tuple(arg.replace("{library}", str(library)) for arg in json.loads(header(text, "args")))
    expect = EXPECT.fullmatch(header(text, "expect"))
    assert expect, f"{crash.name}: no '# expect: exit 0|2 [at L:C: path]' line"
    spec = library / INPUT
    spec.write_text(text, encoding="utf-8")
    outcome = run_archspec(["build", str(spec), "--json", *args], cwd=library)
    assert_cheap(outcome)
    assert verdict(outcome.status, outcome.stderr, library, args) is None, (outcome.status, outcome.stderr)
    assert outcome.status == int(expect["status"]), outcome.stderr
    if expect["place"]:
        assert outcome.stderr.startswith(f"{spec}:{expect['place']}"), outcome.stderr
