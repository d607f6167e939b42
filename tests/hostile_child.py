"""``python -m tests.hostile_child ARGS``: ``archspec ARGS``, then its peak resident memory (VmHWM, in kB) written to
the file named by HOSTILE_PEAK_FILE.

The kernel's ``ru_maxrss`` of a child counts the memory it shared with its parent before ``exec`` (a test worker
holding a network makes every child look a gigabyte large); VmHWM is the peak of the process's own address space.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def _report_peak() -> None:
    status = Path("/proc/self/status").read_text()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    Path(os.environ["HOSTILE_PEAK_FILE"]).write_text(peak)


if __name__ == "__main__":
    atexit.register(_report_peak)
    from archspec.cli import main

    sys.exit(main(sys.argv[1:]))
