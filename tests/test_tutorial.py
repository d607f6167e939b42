"""The hand-written pages work as written: in a fresh folder, each page's files (fenced blocks with a
``title="name"``) are written and its console sessions (``$ command`` then its output) are run in order, and every
command must print exactly what the page shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.docs.tutorial import Fence, fences
from tests.library import SPECS

DOCS = SPECS.parent.parent / "docs"  # the library lives in archspec/specs
PAGES = ["tutorial.md", "getting-started.md", "api.md", "architecture.md", "using-compiled-networks.md"]


def sessions(fence: Fence) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    pairs: list[tuple[str, list[str]]] = []
    for line in fence.body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            assert pairs, f"console output before any command: {line!r}"
            pairs[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in pairs]


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_works_as_written(page: str, tmp_path: Path) -> None:
    (tmp_path / "specs").symlink_to(SPECS)  # pages refer to the library as the repository's specs/
    # the page's `archspec` and `python` are this interpreter's
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    commands = 0
    for fence in fences((DOCS / page).read_text()):
        if fence.title:
            (tmp_path / fence.title).write_text(fence.body)
        if fence.language != "console":
            continue
        for command, expected in sessions(fence):
            result = subprocess.run(command, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=600)
            commands += 1
            assert result.returncode == 0, f"{page}: `{command}` failed:\n{result.stdout}"
            assert _normal(result.stdout) == _normal(expected), f"{page}: `{command}` printed:\n{result.stdout}"
    assert commands, f"{page} runs no command"
