"""The spec library: where its files are and which files of a folder are specs."""

from __future__ import annotations

from pathlib import Path

from archspec.spec.load import SHIPPED_LIBRARY


def default_library() -> Path:
    """``./specs`` when it exists, else the library shipped with archspec."""
    local = Path("specs")
    return local if local.is_dir() else SHIPPED_LIBRARY


def library_files(folder: Path) -> list[Path]:
    """The spec files of a folder (``*.yaml``), hidden files excluded, sorted by name."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("."))
