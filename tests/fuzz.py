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
and saved under ``fuzz-crashes/``.
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

import yaml

from archspec.cli import library_files, main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archspec"
SECONDS = 5.0
HEADROOM = 2**30  # memory an input may add
INPUT = "fuzz-input.yaml"
SECRET = "FUZZ-SECRET-b41d"  # in a file outside the library: no message may quote it
WORDS = ["conv", "block", "op", "n", "s", "stride", "$in_channels", "$c * 2", "-1", "0", "1e9", "null", "[", "]",
         "{", "}", ":", "- ", "&a", "*a", "!!python/object:os.system", "residual", "parallel", "merge", "concat",
         "when", "repeat", "$index", "fixed", "side", "imports", "'", '"', "\t", "\\", "1.5", "true"]
HUGE = "9" * 5000  # past Python's 4,300-digit limit for int <-> str
HOSTILE = [  # one-line YAML values, valid in block and flow context
    "true", "false", "yes", "off", ".inf", "-.inf", ".nan", "0x7fffffff", "0o777", "0b101", "1:2:3", "190:20:30",
    "1e400", "-1", "0", "2147483648", "10000", "1000000", "1e9", "10000000000", HUGE, "1:" + "5" * 4400, "null",
    "[]", "{}", "''", "'$round(1, -10**9)'", "'$round(1.5, 10**9)'", "'$2**64'", "'$int(1e308)'",
    "'$" + "*".join(["int(1e308)"] * 15) + "'", "'$" + HUGE[:400] + "'", "'$1e308 * 10'", "'$-(2**63)'",
    "'$[c, c, c, c, c, c, c, c, c, c]'", "'$index'", "'$in_channels * 10**6'", "'$1/0'", "'$max()'",
    "[&a [x, x, x, x, x, x, x, x, x, x], *a, *a, *a, *a, *a, *a, *a, *a, *a]", "[" * 200 + "]" * 200,
    "{a: " * 80 + "1" + "}" * 80, "'forward'", "'training'", "'x.'", "'a:b\\\\'", "'__init__'", "'1x'",
    "'a b'", "'state_dict'", "''", "'x' ", "'" + "x" * 300 + "'", "!!binary aGVsbG8=", "!!set {a}", "2001-12-14",
]
INT_FIELDS = ["out", "channels", "resolution", "n", "repeat", "kernel", "stride", "s", "groups", "padding", "c",
              "num_classes", "heads", "dim", "expand", "p", "dilation", "layers", "divisor"]
NAMES = ["forward", "training", "x.", "a:b\\", "__init__", "1x", "a b", "state_dict", "", "add_module", "x" * 300,
         "a.b", "T_destination", "_modules", "cuda", "stem"]
IMPORTS = ["../outside.yaml", "../../../../../../../../etc/passwd", "/etc/passwd", "/dev/zero", "/proc/self/status",
           "blocks", "fifo.yaml", "linked.yaml", "big.yaml", "missing.yaml", "", "blocks/../blocks/resnet.yaml",
           "./blocks/resnet.yaml", "blocks//resnet.yaml", "blocks/./resnet.yaml", "blocks/resnet.yaml",
           "{library}/blocks/resnet.yaml", "{library}/../outside.yaml"]
SEEDS = [  # the shapes, small
    "name: g\ninput: {channels: 3, resolution: 8}\nblocks:\n  grow:\n    params: {a: 1, "
    + ", ".join(f"{y}: '$[{', '.join([x] * 10)}]'" for x, y in zip("abcdef", "bcdefg", strict=True))
    + "}\n    body: [{op: relu}]\nstages:\n  - {block: grow, n: 1}\n",
    "name: r\ninput: {channels: 3, resolution: 8}\nstem:\n  - repeat: 10000\n    body:\n      repeat: 10000\n"
    "      body: {repeat: 10000, body: []}\n",
    "name: p\ninput: {channels: 3, resolution: 8}\nstages:\n  - &r {op: relu, n: 10000}\n" + "  - *r\n" * 30,
    "name: o\ninput: {channels: 3, resolution: 8}\nstem:\n  - {op: conv, out: '$round(1, -10**9)', kernel: 3}\n",
    "name: s\ninput: {channels: 3, resolution: 4096}\nstem:\n  - repeat: 9000\n    body: {op: maxpool, kernel: 1, "
    "stride: 2, padding: 0}\n",
    "name: f\nimports: [blocks/resnet.yaml, blocks/../blocks/resnet.yaml, ./blocks/resnet.yaml]\n"
    "input: {channels: 3, resolution: 32}\nstages:\n  - {name: forward, block: basic, c: 8, n: 1}\n",
]
NUMBER = re.compile(r"\b\d+\b")
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


def mutate(text: str, rng: random.Random) -> str:
    """Apply one to four random edits to the text."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(8)
        i = rng.randrange(len(lines)) if lines else 0
        if choice == 0 and lines:
            del lines[i]
        elif choice == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif choice == 3 and lines:
            lines[i] = NUMBER.sub(lambda _: rng.choice(["0", "-1", "1", "7", "10**6", "10**12", "true", ".inf",
                                                        "1:2:3", "0x10", HUGE]), lines[i], count=1)
        elif choice == 4 and lines:
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(WORDS + HOSTILE)
            lines[i] = " ".join(words)
        elif choice == 5 and lines:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + "".join(chr(rng.randrange(32, 0x250)) for _ in range(rng.randint(1, 3))) \
                + lines[i][at:]
        elif choice == 6:
            lines = lines[: rng.randrange(len(lines) + 1)]
        else:
            lines[i:i] = rng.choice(SEEDS).split("\n")[rng.randrange(2, 5):]
    return "\n".join(lines)


def _slots(data: Any) -> Iterator[tuple[dict | list, Any]]:
    """Every (container, key) of a parsed document, depth first."""
    stack = [data]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            yield node, key
            stack.append(node[key])


def mutate_document(text: str, rng: random.Random) -> str | None:
    """Parse the text and plant one to three hostile values in it; None when the text is no mapping."""
    try:
        data = yaml.safe_load(text)
    except Exception:  # whatever the text is, the text mutations take over
        return None
    if not isinstance(data, dict):
        return None
    planted: dict[str, str] = {}

    def plant(raw: str) -> str:
        planted[f"__fuzz{len(planted)}__"] = raw
        return f"__fuzz{len(planted) - 1}__"

    for _ in range(rng.randint(1, 3)):
        slots = list(_slots(data))
        mappings = [node for node, _ in slots if isinstance(node, dict)] or [data]
        choice = rng.randrange(7)
        if choice == 0 and slots:
            node, key = rng.choice(slots)
            node[key] = plant(rng.choice(HOSTILE))
        elif choice == 1:
            rng.choice(mappings)[rng.choice(INT_FIELDS)] = plant(rng.choice(HOSTILE))
        elif choice == 2:
            rng.choice(mappings)["name"] = rng.choice(NAMES)
        elif choice == 3:
            data["imports"] = rng.sample(IMPORTS, rng.randint(1, 3))
        elif choice == 4:
            row = {"op": rng.choice(["relu", "identity", "batchnorm", "dropout"]), "n": rng.choice([10**4, 10**6])}
            data["stages"] = [row] * rng.choice([2, 100, 1000])  # one object: dumped as an anchor and aliases
        elif choice == 5:
            body: Any = rng.choice([[], {"seq": []}, {"op": "identity"}])
            for _ in range(rng.randint(1, 4)):
                body = {"repeat": rng.choice([2, 10000, "$10**4"]), "body": body}
            data.setdefault("stem", [])
            data["stem"] = [*data["stem"], body] if isinstance(data["stem"], list) else [body]
        else:
            variables = data["variables"] if isinstance(data.get("variables"), dict) else {}
            variables[rng.choice(["num_classes", "width", "depth"])] = plant(rng.choice(HOSTILE))
            data["variables"] = variables
    try:
        out = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=10**4, allow_unicode=True)
    except Exception:  # an unrepresentable value from an earlier mutation
        return None
    for placeholder, raw in planted.items():
        out = out.replace(f"'{placeholder}'", raw).replace(placeholder, raw)
    return out


def mutate_arguments(rng: random.Random) -> tuple[str, ...]:
    """Command-line overrides: most inputs have none."""
    choice = rng.randrange(12)
    if choice == 0:
        return ("--set", f"num_classes={rng.choice(HOSTILE)}")
    if choice == 1:
        return ("--set", "num_classes=" + rng.choice(["[&a [&b [x, x, x, x, x, x, x, x], *b, *b, *b, *b, *b, *b,"
                                                      " *b], *a, *a, *a, *a, *a, *a, *a]", "[" * 30000]))
    if choice == 2:
        return ("--head", rng.choice(["{library}/fifo.yaml", "/dev/zero", "{library}/big.yaml", "{library}/blocks",
                                      "{library}/head.yaml"]))
    if choice == 3:
        return (rng.choice(["--num-classes", "--image-size"]), rng.choice(["0", "-1", "10000000000", HUGE]))
    return ()


def hostile_library(folder: Path) -> Path:
    """A copy of the library in ``folder``, beside the hostile files the mutations name; returns the copy."""
    library = folder / "specs"
    shutil.copytree(ROOT / "specs", library)
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
        self.corpus: list[Case] = [(spec.read_text(), ()) for spec in library_files(ROOT / "specs")]
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
