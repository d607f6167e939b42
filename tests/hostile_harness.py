"""One hostile input through the ``archspec`` command in a child process, measured: exit status, output, CPU time,
peak memory (the child's own peak resident set: see tests/hostile_child.py), and whether a pre-existing output survived.

A child process is the honest measure: a hang is killed at ``HANG_SECONDS`` instead of stalling the suite, and the
memory figure is that input's alone. CPU seconds rather than wall time are compared with the budget, because two
test workers share two cores and wall time would measure the other worker too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_SECONDS = 5.0
PEAK_BYTES = 2**30
HANG_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    """What one run of the command did."""

    status: int
    stdout: str
    stderr: str
    cpu_seconds: float
    wall_seconds: float
    peak_bytes: int
    killed: bool


def run_archspec(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
                 timeout: float = HANG_SECONDS) -> Outcome:
    """Run ``archspec ARGS`` in ``cwd`` as a child process; kill it after ``timeout`` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="peak-") as peak:
        environment = {**os.environ, **(env or {}), "HOSTILE_PEAK_FILE": peak.name,
                       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        start = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "tests.hostile_child", *args], cwd=cwd, env=environment,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, wait_status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        peak_kb = Path(peak.name).read_text() or "0"  # empty when the child was killed
        return Outcome(child.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       usage.ru_utime + usage.ru_stime, wall, int(peak_kb) * 1024, killed.is_set())


def assert_cheap(outcome: Outcome) -> None:
    """The run ended by itself, within the CPU and memory budget, without a traceback."""
    assert not outcome.killed, f"no answer within {HANG_SECONDS} s (a hang)"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.cpu_seconds < CPU_SECONDS, f"{outcome.cpu_seconds:.1f} s of CPU"
    assert outcome.peak_bytes < PEAK_BYTES, f"{outcome.peak_bytes / 2**20:.0f} MiB at peak"


def assert_refused(outcome: Outcome, expected: str) -> None:
    """Exit status 2 with exactly the one line ``expected`` on stderr, cheaply."""
    assert_cheap(outcome)
    assert outcome.stderr == expected + "\n", outcome.stderr
    assert outcome.status == 2, outcome.status


def assert_intact(path: Path, before: bytes | None) -> None:
    """``path`` holds what it held before the run (``None``: it still does not exist), and the folder holds no
    temporary file left behind."""
    if before is None:
        assert not path.exists(), f"{path} was written"
    else:
        assert path.read_bytes() == before, f"{path} was changed"
    if path.parent.is_dir():
        leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
        assert not leftovers, leftovers
