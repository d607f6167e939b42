"""Progress of a long command on one terminal line, rewritten in place; logs and pipes get none."""

from __future__ import annotations

import sys
import time


class Progress:
    """Steps of a long command on one terminal line (rewritten in place), each with the seconds so far."""

    def __init__(self, name: str) -> None:
        self.name, self.start = name, time.monotonic()

    def __call__(self, step: str) -> None:
        print(f"\r\033[K{self.name}: {step} ({time.monotonic() - self.start:.0f} s)", end="", file=sys.stderr,
              flush=True)

    def clear(self) -> None:
        """Erase the line, so that what follows (the result, or an error) starts on a clean one."""
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def terminal_progress(name: str) -> Progress | None:
    """A Progress for ``name`` when stderr is a terminal, else None (a log or a pipe gets no progress line)."""
    return Progress(name) if sys.stderr.isatty() else None
