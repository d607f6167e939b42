"""Coverage-guided fuzzing of the loader and the command line: ``python -m tests.fuzz --minutes N`` (``make fuzz``).

Each input is a spec text (and sometimes a few command-line overrides) run through ``archspec build SPEC --json``
in-process, in a temporary copy of the library beside hostile files (a FIFO, a symlink out of it, a sparse 2 GB
file, a folder, a file outside it holding a secret). Inputs come from mutating the corpus: the library's specs, a
few hostile seeds, and every input that reached archspec lines no earlier input reached (a ``sys.settrace`` tracer
follows archspec's frames only). Mutations edit the text (lines, numbers, words, characters, truncation) or the
parsed document (hostile values from the issue's classes: huge and base-60 integers, YAML booleans, infinities,
growing expressions, reserved names, odd imports, alias bombs, deep nesting, huge repeats).

Every input must end with exit status 0, or 2 with exactly one line on stderr, ``file:line:column: ...``, naming
a YAML file of the library copy and a place inside its text (or, for a command-line value, its flag), within 5 s
and 1 GiB more address space (RLIMIT_AS), and without echoing a file outside the library. Anything else is a crash:
its first instance per signature (exception type and innermost archspec frame, or the message's shape) is minimised
and saved under ``fuzz-crashes/``. Each one found is kept in ``tests/fuzz_crashes/`` with a hand-derived
``# expect:`` line, and ``tests/test_fuzz_crashes.py`` replays them all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from archspec.cli import main
from archspec.library import library_files
from tests.fuzz_mutations import SEEDS, mutate, mutate_arguments, mutate_document

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archspec"
SECONDS = 5.0
HEADROOM = 2**30  # memory an input may add
INPUT = "fuzz-input.yaml"
SECRET = "FUZZ-SECRET-b41d"  # in a file outside the library: no message may quote it
RESOURCE = re.compile(r"(Hang|MemoryError|RecursionError) at ")
LOCATED = re.compile(r"(?P<file>[^\n:]+\.yaml):(?P<line>\d+):(?P<column>\d+): [^\n]+\n")
YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break
Case = tuple[str, tuple[str, ...]]  # spec text, extra command-line arguments


class Hang(Exception):
    """An input ran past the time limit."""


class Coverage:
    """Lines of archspec/ reached so far, recorded by a tracer that follows archspec's frames only."""

    def __init__(self) -> None:
        self.lines: set[tuple[str, int]] = set()
        self.new = 0
        self._left: dict[CodeType, set[int]] = {}  # lines of each code object not reached yet
        self._prefix = f"{PACKAGE}{os.sep}"

    def _call(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        code = frame.f_code
        if not code.co_filename.startswith(self._prefix):
            return None
        left = self._left.get(code)
        if left is None:
            left = self._left[code] = {line for _, _, line in code.co_lines() if line is not None}
        return self._line if left else None  # a code object fully reached costs nothing more

    def _line(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if event == "line":
            left = self._left[frame.f_code]
            if frame.f_lineno in left:
                left.discard(frame.f_lineno)
                self.lines.add((frame.f_code.co_filename, frame.f_lineno))
                self.new += 1
                if not left:
                    frame.f_trace_lines = False
        return self._line

    @contextlib.contextmanager
    def tracing(self) -> Iterator[None]:
        """Record the lines reached inside the block."""
        sys.settrace(self._call)
        try:
            yield
        finally:
            sys.settrace(None)


def executable_lines() -> int:
    """The number of lines of archspec/ that carry code (from its code objects' line tables)."""
    lines: set[tuple[Path, int]] = set()
    for file in PACKAGE.rglob("*.py"):
        stack = [compile(file.read_text(encoding="utf-8"), str(file), "exec")]
        while stack:
            code = stack.pop()
            lines.update((file, line) for _, _, line in code.co_lines() if line is not None)
            stack.extend(c for c in code.co_consts if isinstance(c, CodeType))
    return len(lines)


def hostile_library(folder: Path) -> Path:
    """A copy of the library in ``folder``, beside the hostile files the mutations name; returns the copy."""
    library = folder / "specs"
    shutil.copytree(ROOT / "archspec" / "specs", library)
    (folder / "outside.yaml").write_text(f"blocks:\n  {SECRET}: {{}}\nname: {SECRET}\n", encoding="utf-8")
    (library / "linked.yaml").symlink_to(folder / "outside.yaml")
    os.mkfifo(library / "fifo.yaml")
    with (library / "big.yaml").open("wb") as sparse:
        sparse.truncate(2 * 10**9)
    (library / "head.yaml").write_text("head:\n  - {op: global_avgpool}\n  - {op: flatten, name: forward}\n")
    return library


@contextlib.contextmanager
def guarded(seconds: float) -> Iterator[None]:
    """Raise Hang after ``seconds``, and MemoryError past HEADROOM more address space than now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    in_use = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (min(in_use + HEADROOM, hard) if hard > 0 else in_use + HEADROOM, hard))

    def alarm(*_: object) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_one(path: Path, seconds: float, args: tuple[str, ...] = (), coverage: Coverage | None = None,
            ) -> tuple[int | None, str]:
    """Exit status and stderr of ``archspec build PATH --json ARGS``; a None status means a crash, and the text
    is then its signature (see ``signature``), a line break and the traceback."""
    err = io.StringIO()
    try:
        with guarded(seconds), coverage.tracing() if coverage else contextlib.nullcontext(), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(["build", str(path), "--json", *args])
    except BaseException as exc:  # a fuzzer reports whatever escapes
        return None, f"{signature(exc)}\n{traceback.format_exc()}"
    return status, err.getvalue()


def signature(exc: BaseException) -> str:
    """The first exception of the chain (a time limit hit while handling a MemoryError is that MemoryError) and
    its innermost archspec frame: the function for a resource limit, which stops the work anywhere inside it,
    else the line."""
    chain = [exc]
    while chain[-1].__context__ is not None:
        chain.append(chain[-1].__context__)
    exc = next((e for e in chain if isinstance(e, MemoryError)), exc)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith(str(PACKAGE))]
    where = "main"
    if frames:
        inner = frames[-1]
        place = inner.name if RESOURCE.match(f"{type(exc).__name__} at ") else inner.lineno
        where = f"{Path(inner.filename).relative_to(ROOT)}:{place}"
    return f"{type(exc).__name__} at {where}"


def located(err: str, library: Path) -> bool:
    """Whether ``err`` is one line ``file:line:column: message`` whose file is a YAML file under ``library`` (the
    input or an imported block file) and whose line and column lie within that file's text, or at its end."""
    match = LOCATED.fullmatch(err)
    if match is None:
        return False
    file = Path(match["file"])
    if not file.resolve().is_relative_to(library.resolve()) or not file.is_file():
        return False
    lines = YAML_BREAK.split(file.read_text(encoding="utf-8"))
    line, column = int(match["line"]), int(match["column"])
    if (line, column) == (len(lines) + 1, 1) and lines[-1]:
        return True  # libyaml's end of a text without a final line break: the start of the line after it
    return 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


def verdict(status: int | None, err: str, library: Path, args: tuple[str, ...]) -> str | None:
    """None for an acceptable outcome, else the crash's signature: exception and innermost archspec frame, or the
    shape of the message."""
    if status is None:
        return err.split("\n", 1)[0]
    if SECRET in err or "root:x:0:0" in err:
        return "leak: a message quotes a file outside the library"
    if status == 0 or (status == 2 and located(err, library)):
        return None
    head = args[args.index("--head") + 1] if "--head" in args else None
    if status == 2 and head and re.fullmatch(f"{re.escape(head)}: [^\n]+\n", err):
        return None  # the head file named on the command line, refused whole (too large, no regular file)
    flag = re.fullmatch(r"(?:archspec [a-z]+: argument )?(--[a-z-]+)[ :][^\n]+\n", err)  # argparse's or ours
    if status == 2 and flag and flag[1] in args:
        return None  # a command-line value is no file's text: the flag is the place
    shape = re.sub(r"\d+", "N", err.replace(str(library), "LIB").strip().split("\n")[0])[:70]
    return f"status {status}, {err.count(chr(10))} lines: {shape}"


class Fuzzer:
    """The corpus, the coverage it reached, and the crashes found, over one library copy."""

    def __init__(self, library: Path, rng: random.Random, out: Path, guided: bool) -> None:
        self.library, self.rng, self.out = library, rng, out
        self.path = library / INPUT
        self.coverage = Coverage() if guided else None
        self.corpus: list[Case] = [(spec.read_text(), ()) for spec in library_files(ROOT / "archspec" / "specs")]
        self.corpus += [(seed, ()) for seed in SEEDS]
        self.signatures: dict[str, int] = {}
        self.counts = {"inputs": 0, "accepted": 0, "rejected": 0, "crashes": 0}

    def judge(self, case: Case, coverage: Coverage | None = None) -> tuple[int | None, str | None]:
        """Run one case: its exit status and crash signature (None: no crash). A traced run that computed past
        the time limit is judged by an untraced rerun, since the tracer's overhead is not the input's."""
        text = case[0].replace("{library}", str(self.library))
        args = tuple(arg.replace("{library}", str(self.library)) for arg in case[1])
        self.path.write_text(text, encoding="utf-8")
        start, cpu = time.monotonic(), time.process_time()
        status, err = run_one(self.path, SECONDS, args, coverage)
        found = verdict(status, err, self.library, args)
        # a blocked run (no CPU used) would block again, and a hang already confirmed needs no second look
        if coverage and time.monotonic() - start > SECONDS and time.process_time() - cpu > 1 \
                and found not in self.signatures:
            status, err = run_one(self.path, SECONDS, args)
            found = verdict(status, err, self.library, args)
        return status, found

    def step(self) -> None:
        """Mutate a corpus entry, run it, keep it if it reached new lines, save it if it crashed."""
        text, args = self.rng.choice(self.corpus)
        mutated = self.rng.random() < 0.4 and mutate_document(text, self.rng)
        case = (mutated or mutate(text, self.rng), args if self.rng.random() < 0.7 else mutate_arguments(self.rng))
        before = self.coverage.new if self.coverage else 0
        status, signature = self.judge(case, self.coverage)
        self.counts["inputs"] += 1
        if self.coverage and self.coverage.new > before:
            self.corpus.append(case)
        if signature is None:
            self.counts["accepted" if status == 0 else "rejected"] += 1
            return
        self.counts["crashes"] += 1
        self.signatures[signature] = self.signatures.get(signature, 0) + 1
        if self.signatures[signature] == 1:
            self.save(self.minimise(case, signature) if self.coverage else case, signature)

    def minimise(self, case: Case, signature: str, budget: float = 20.0) -> Case:
        """Delete top-level sections, then lines (halves, then smaller chunks), while the crash keeps its
        signature, within ``budget`` seconds."""
        text, args = case
        deadline = time.monotonic() + budget

        def kind(found: str | None) -> str | None:  # a limit stops the work anywhere: its kind is the crash
            return found.split(" at ")[0] if found and RESOURCE.match(found) else found

        def keeps(lines: list[str]) -> bool:
            return time.monotonic() < deadline and kind(self.judge(("\n".join(lines), args))[1]) == kind(signature)

        sections = re.split(r"\n(?=[^\s#-])", text)  # a key at the margin starts a section
        i = 0
        while i < len(sections):
            if keeps(sections[:i] + sections[i + 1:]):
                del sections[i]
            else:
                i += 1
        lines = "\n".join(sections).split("\n")
        chunk = max(1, len(lines) // 2)
        while chunk and time.monotonic() < deadline:
            i = 0
            while i < len(lines):
                if keeps(lines[:i] + lines[i + chunk:]):
                    del lines[i:i + chunk]
                else:
                    i += chunk
            chunk //= 2
        return "\n".join(lines), args

    def save(self, case: Case, signature: str) -> None:
        """Write the case as ``crash-N.yaml``: its arguments and signature as comments, then the text."""
        self.out.mkdir(parents=True, exist_ok=True)
        header = f"# args: {json.dumps(list(case[1]))}\n# crash: {signature}\n"
        (self.out / f"crash-{len(self.signatures)}.yaml").write_text(header + case[0], encoding="utf-8")


def fuzz(minutes: float, seed: int, out: Path, max_inputs: int | None = None, guided: bool = False,
         ) -> dict[str, int]:
    """Run for ``minutes`` (or until ``max_inputs``), coverage-guided if ``guided``; return the counts of inputs,
    accepted, rejected and crashing ones, distinct crashes, lines reached and the corpus's size."""
    deadline = time.monotonic() + minutes * 60
    with tempfile.TemporaryDirectory(prefix="archspec-fuzz-") as folder:
        fuzzer = Fuzzer(hostile_library(Path(folder)), random.Random(seed), out, guided)
        while time.monotonic() < deadline and fuzzer.counts["inputs"] != max_inputs:
            fuzzer.step()
    lines = len(fuzzer.coverage.lines) if fuzzer.coverage else 0
    return {**fuzzer.counts, "distinct": len(fuzzer.signatures), "coverage": lines, "corpus": len(fuzzer.corpus)}


def main_fuzz() -> None:
    """Command-line entry point: fuzz, print the summary line, fail if anything crashed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz-crashes")
    args = parser.parse_args()
    counts = fuzz(args.minutes, args.seed, args.out, guided=True)
    total = executable_lines()
    print(" ".join(f"{k}={v}" for k, v in counts.items() if k not in ("coverage", "corpus")),
          f"coverage={counts['coverage']} lines ({100 * counts['coverage'] / total:.1f}% of {total})",
          f"corpus={counts['corpus']}")
    if counts["crashes"]:
        raise SystemExit(f"crashes saved in {args.out}")


if __name__ == "__main__":
    main_fuzz()
