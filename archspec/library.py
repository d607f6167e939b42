"""The spec library: where its files are, which files of a folder are specs, and networks by name."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from archspec.errors import SpecError
from archspec.spec.load import SHIPPED_LIBRARY
from archspec.spec.source import file_path

# what a library name looks like: a file name without folder or suffix (``resnet50``, ``mobilenet_v2_140``)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def default_library() -> Path:
    """``./specs`` when it exists, else the library shipped with archspec."""
    local = Path("specs")
    return local if local.is_dir() else SHIPPED_LIBRARY


def library_files(folder: Path) -> list[Path]:
    """The spec files of a folder (``*.yaml``), hidden files excluded, sorted by name."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("."))


def list_models(pattern: str | list[str] = "*") -> list[str]:
    """The names of the shipped library's networks matching a shell-style pattern (``resnet*``, ``*v2*``) or any of
    several, sorted; as ``timm.list_models``, the match ignores case."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    names = [path.stem for path in library_files(SHIPPED_LIBRARY)]
    return [name for name in names if any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)]


def is_library_name(written: str) -> bool:
    """Whether ``written`` reads as a network's name rather than a path (no folder, no ``.yaml`` suffix)."""
    return NAME.fullmatch(written) is not None and not written.endswith((".yaml", ".yml"))


def find_spec(path_or_name: str | os.PathLike[str]) -> str:
    """The spec file meant by a path or a library name: the path when a file is there, else the shipped library's
    network of that name, else the path as given (reading it then says what is wrong); a name that is neither is
    a SpecError."""
    path = file_path(path_or_name)
    if not os.path.lexists(path) and is_library_name(path):
        shipped = SHIPPED_LIBRARY / f"{path}.yaml"
        if not shipped.is_file():
            raise SpecError(f"{path}: no such spec file, and no library network of that name (archspec list shows "
                            f"them)")
        return str(shipped)
    return path
