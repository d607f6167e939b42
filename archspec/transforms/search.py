"""The compound-scaling search (EfficientNet's step 1): a grid of (alpha, beta, gamma) near a target."""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from archspec.errors import ArchspecError

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def grid(target: float, tolerance: float, step: float, high: float = 2.0) -> list[tuple[float, float, float]]:
    """All (alpha, beta, gamma) >= 1 on a ``step`` grid with |alpha * beta^2 * gamma^2 - target| <= tolerance."""
    if step <= 0 or tolerance < 0:
        raise ArchspecError("--step must be > 0 and --tolerance >= 0")
    count = round((high - 1.0) / step) + 1
    if count > 400:
        raise ArchspecError(f"--step {step} makes a grid of {count}^3 points; use a step of 0.0025 or more")
    values = [round(1.0 + i * step, 6) for i in range(count)]
    return [(a, b, g) for a in values for b in values for g in values
            if abs(a * b * b * g * g - target) <= tolerance]


def score_with_command(command: str, spec_text: str, folder: Path, timeout: float = 3600) -> float:
    """Write the candidate spec next to the original (so its imports resolve), run the user's command on it,
    and return the last number it printed."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=folder, prefix=".candidate-", delete=False) as f:
        f.write(spec_text)
        path = Path(f.name)
    try:
        argv = shlex.split(command)
        argv = [a.replace("{}", str(path)) for a in argv] if any("{}" in a for a in argv) else [*argv, str(path)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ArchspecError(f"--score command failed: {exc}") from None
        numbers = NUMBER.findall(done.stdout)
        if done.returncode != 0 or not numbers:
            raise ArchspecError(f"--score command exited {done.returncode} and printed no number: "
                                f"{(done.stderr or done.stdout).strip()[-200:]!r}")
        return float(numbers[-1])
    finally:
        path.unlink(missing_ok=True)
