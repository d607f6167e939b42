"""The tutorial's files: a page's fenced code blocks, and the diagrams of the networks the tutorial writes."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archspec.api import load
from archspec.backends.diagram import diagram, render

FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="([^"]+)"')
TUTORIAL_IMAGE = re.compile(r"\]\(tutorial/([\w.-]+)\.svg\)")


@dataclass(frozen=True)
class Fence:
    """A fenced code block of a page: its language, its ``title="file name"`` if any, and its text."""

    language: str
    title: str | None
    body: str


def fences(markdown: str) -> list[Fence]:
    """The page's fenced code blocks, in order."""
    blocks = []
    for match in FENCE.finditer(markdown):
        title = TITLE.search(match.group(2))
        blocks.append(Fence(match.group(1), title.group(1) if title else None, match.group(3)))
    return blocks


def tutorial_diagrams(page: Path) -> dict[str, bytes]:
    """``tutorial/<name>.svg`` for every such image of the tutorial: the block diagram of its ``<name>.yaml``; none
    where the folder has no tutorial (documentation written elsewhere than the checkout's docs/)."""
    if not page.is_file():
        return {}
    markdown = page.read_text()
    names = sorted(set(TUTORIAL_IMAGE.findall(markdown)))
    if not names:
        return {}
    with tempfile.TemporaryDirectory() as folder:
        for fence in fences(markdown):
            if fence.title:
                (Path(folder) / fence.title).write_text(fence.body)
        return {f"tutorial/{name}.svg": render(diagram(load(Path(folder) / f"{name}.yaml").graph, "block"), "svg")
                for name in names}
