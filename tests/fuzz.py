"""Fuzzing the loader and the command line: ``python -m tests.fuzz --minutes N`` (or ``make fuzz``).

Mutates the text of the library's spec files (line deletions, duplications and swaps, number and word
replacements, random characters, truncation) and runs ``archspec build`` on each result in-process, in a temporary
copy of the library (so that imports resolve and the checkout stays untouched). Every input must end with exit
status 0, or 2 with exactly one line on stderr, ``file:line:column: ...``, naming a YAML file of that copy and a
place inside its text, within a time limit; anything else is a crash, saved under ``fuzz-crashes/`` with the
traceback or the message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import shutil
import signal
import tempfile
import time
import traceback
from pathlib import Path

from archspec.cli import library_files, main

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["conv", "block", "op", "n", "s", "stride", "$in_channels", "$c * 2", "-1", "0", "1e9", "null", "[", "]",
         "{", "}", ":", "- ", "&a", "*a", "!!python/object:os.system", "residual", "parallel", "merge", "concat",
         "when", "repeat", "$index", "fixed", "side", "imports", "'", '"', "\t", "\\", "1.5", "true"]
NUMBER = re.compile(r"\b\d+\b")
LOCATED = re.compile(r"(?P<file>[^\n:]+\.yaml):(?P<line>\d+):(?P<column>\d+): [^\n]+\n")
YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break


class Hang(Exception):
    """An input ran past the time limit."""


def mutate(text: str, rng: random.Random) -> str:
    """Apply one to four random edits."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        i = rng.randrange(len(lines)) if lines else 0
        if choice == 0 and lines:
            del lines[i]
        elif choice == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif choice == 3 and lines:
            lines[i] = NUMBER.sub(lambda _: str(rng.choice([0, -1, 1, 7, 10**6, 10**12])), lines[i], count=1)
        elif choice == 4 and lines:
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            lines[i] = " ".join(words)
        elif choice == 5 and lines:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + "".join(chr(rng.randrange(32, 0x250)) for _ in range(rng.randint(1, 3))) \
                + lines[i][at:]
        else:
            lines = lines[: rng.randrange(len(lines) + 1)]
    return "\n".join(lines)


def run_one(path: Path, seconds: int) -> tuple[int | None, str]:
    """Exit status and stderr of ``archspec build PATH --json``; None status means a crash (traceback text)."""
    err = io.StringIO()

    def alarm(*_: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = main(["build", str(path), "--json"])
    except BaseException:  # a fuzzer reports whatever escapes
        return None, traceback.format_exc()
    finally:
        signal.alarm(0)
    return status, err.getvalue()


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


def fuzz(minutes: float, seed: int, out: Path, max_inputs: int | None = None) -> dict[str, int]:
    """Run for ``minutes`` (or until ``max_inputs``); return counts of accepted, rejected and crashing inputs."""
    rng = random.Random(seed)
    counts = {"inputs": 0, "accepted": 0, "rejected": 0, "crashes": 0}
    deadline = time.monotonic() + minutes * 60
    with tempfile.TemporaryDirectory(prefix="archspec-fuzz-") as folder:
        library = Path(folder) / "specs"  # a copy of the library, so that the inputs' imports resolve
        shutil.copytree(ROOT / "specs", library)
        corpus = [spec.read_text() for spec in library_files(library)]
        path = library / "fuzz-input.yaml"
        while time.monotonic() < deadline and counts["inputs"] != max_inputs:
            text = mutate(rng.choice(corpus), rng)
            path.write_text(text, encoding="utf-8")
            status, err = run_one(path, seconds=20)
            counts["inputs"] += 1
            if status == 0:
                counts["accepted"] += 1
            elif status == 2 and located(err, library):
                counts["rejected"] += 1
            else:
                counts["crashes"] += 1
                out.mkdir(parents=True, exist_ok=True)
                case = out / f"crash-{counts['inputs']}"
                case.with_suffix(".yaml").write_text(text, encoding="utf-8")
                case.with_suffix(".txt").write_text(f"status {status}\n{err}")
    return counts


def main_fuzz() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "fuzz-crashes")
    args = parser.parse_args()
    counts = fuzz(args.minutes, args.seed, args.out)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    if counts["crashes"]:
        raise SystemExit(f"crashes saved in {args.out}")


if __name__ == "__main__":
    main_fuzz()
