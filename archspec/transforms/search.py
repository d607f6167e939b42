"""The compound-scaling search (EfficientNet's step 1): a grid of (alpha, beta, gamma) near a target."""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from archspec.errors import ArchspecError, SpecError

MAX_STEPS = 100  # grid points per coefficient above the first: the grid has at most 101^3 points
MAX_CANDIDATES = 1000  # each one is scaled and analysed
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def grid(target: float, tolerance: float, step: float, high: float = 2.0) -> list[tuple[float, float, float]]:
    """All (alpha, beta, gamma) >= 1 on a ``step`` grid with |alpha * beta^2 * gamma^2 - target| <= tolerance."""
    if not (step > 0 and tolerance >= 0):
        raise SpecError(f"--step must be > 0 and --tolerance >= 0, got {step:g} and {tolerance:g}")
    steps = round((high - 1.0) / step)
    if steps > MAX_STEPS:
        raise SpecError(f"--step {step:g} makes a grid of {steps + 1}^3 points; use a step of "
                        f"{(high - 1.0) / MAX_STEPS:g} or more")
    values = [round(1.0 + i * step, 6) for i in range(steps + 1)]
    candidates = [(a, b, g) for a in values for b in values for g in values
                  if abs(a * b * b * g * g - target) <= tolerance]
    if not candidates:
        raise SpecError(f"no (alpha, beta, gamma) on a {step:g} grid lies within {tolerance:g} of {target:g}")
    if len(candidates) > MAX_CANDIDATES:
        raise SpecError(f"--step {step:g} and --tolerance {tolerance:g} give {len(candidates)} candidates to "
                        f"analyse, more than {MAX_CANDIDATES}; use a coarser --step or a smaller --tolerance")
    return candidates


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
