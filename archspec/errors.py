"""One error hierarchy for every stage of archspec; each error knows where in a spec it comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]
EXIT_USAGE = 2  # the exit status of every refused input


def format_path(path: FieldPath) -> str:
    """Render a field path the way a reader writes it: ``stages[3].stride``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# control characters, line separators, and the lone surrogates that stand for undecodable bytes in file names
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 256 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\udcff``): one line."""
    return _CONTROL.sub(_escape, text)


@dataclass(frozen=True)
class Location:
    """A place in a spec file: file, 1-based line and column, and the field path."""

    file: str
    line: int = 0
    column: int = 0
    path: FieldPath = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        dotted = format_path(self.path)
        return printable(f"{where}: {dotted}" if dotted else where)


@dataclass(frozen=True, slots=True)
class Site:
    """A place in a spec not yet resolved to line and column (resolving costs a lookup; errors are rare)."""

    source: Any  # archspec.spec.source.Source
    path: FieldPath

    def location(self) -> Location:
        """The file, line and column of this place."""
        return self.source.locate(self.path)


class ArchspecError(Exception):
    """Base of every error archspec raises on purpose."""

    def __init__(self, message: str, location: Location | Site | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location.location() if isinstance(location, Site) else location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class SpecError(ArchspecError):
    """The spec text is malformed: YAML syntax, unknown or missing fields, wrong types, bad values."""


class GraphError(ArchspecError):
    """The spec is well-formed but describes an impossible network (shapes, arity, cycles)."""


class WeightsError(ArchspecError):
    """Weights from another implementation do not fit the compiled network."""


class OutputError(ArchspecError):
    """An output file cannot be written: a folder in the way, no such folder, no permission, a full disk."""


class RenderError(ArchspecError):
    """A diagram or chart cannot be rendered: Graphviz or matplotlib missing or failing, or a bad output name."""
