"""What an item sees while it expands: its scope (values, where each was written, names) and node naming."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from archspec.errors import Site
from archspec.spec.source import Source


class Namer:
    """Hands out default names (``0``, ``1``, ...) for unnamed items and unique names for merge nodes."""

    def __init__(self) -> None:
        self.index = 0
        self.merges: dict[str, int] = {}

    def next_index(self) -> str:
        """The next default name: ``0``, ``1``, ..."""
        name = str(self.index)
        self.index += 1
        return name

    def merge(self, kind: str) -> str:
        """A unique name for a merge node: ``add``, then ``add_1``, ..."""
        count = self.merges.get(kind, 0)
        self.merges[kind] = count + 1
        return kind if count == 0 else f"{kind}_{count}"


@dataclass
class Scope:
    """What an item sees while it expands: values by name, where each was written, and its context."""

    values: dict[str, Any]
    origins: dict[str, Site]
    source: Source
    prefix: str
    namer: Namer
    stage: str
    block: str | None = None
    depth: int = 0
    context: str = ""
    call_site: Site | None = None  # where the network file uses the outermost block

    def child(self, prefix: str) -> Scope:
        """A scope for a named sub-namespace."""
        return replace(self, prefix=prefix, namer=Namer())


def attrs_key(kind: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key for an op's resolved attribute values that tells 1, 1.0 and True apart; None if unhashable."""
    def typed(value: Any) -> Any:
        return (list, *map(typed, value)) if isinstance(value, list) else (type(value), value)

    key = (kind, *((name, typed(value)) for name, value in values.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def qualify(prefix: str, name: str) -> str:
    """Join a namespace prefix and a name with a dot."""
    return f"{prefix}.{name}" if prefix else name
