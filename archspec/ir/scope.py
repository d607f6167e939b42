"""What an item sees while it expands: its scope (values, where each was written, names) and node naming."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from archspec.errors import Site
from archspec.spec.source import Source

# the names a block's parameters and body see besides its parameters and the network's variables, and what each
# holds (build.py binds them; the spec reference lists them)
BODY_NAMES: dict[str, str] = {
    "in_channels": "the block input's channels, `in_shape[0]`",
    "in_shape": "the block input's shape without the batch dimension, as a list: `[C, H, W]` for a feature map, "
                "`[L, D]` for a sequence of L tokens of width D; index it as `in_shape[0]`, `in_shape[-1]`",
    "in_size": "a feature map input's height, `in_shape[1]` (not defined for other inputs)",
    "in_dim": "the block input's last dimension, `in_shape[-1]`: a token sequence's width D (a map's width W)",
    "repeat_index": "the block's place within its stage row: 0 to the row's `n` - 1",
    "block_index": "the block's place among all block instances of the stage table, from 0",
    "num_blocks": "the number of block instances in the stage table",
    "stage_index": "the stage row's place in the stage table, from 0",
}


class Namer:
    """Hands out default names for unnamed items (``0``, ``1``, ... or, with ``by_kind``, the op or block's own name)
    and unique names for merge nodes."""

    def __init__(self, taken: Callable[[str], bool] | None = None) -> None:
        self.index = 0
        # with ``taken``, names by kind (the head's items are the network's own children: ``flatten``, not ``0``),
        # skipping the names ``taken`` says are in use
        self.taken = taken
        self.merges: dict[str, int] = {}

    def next_index(self, kind: str) -> str:
        """The next default name for an item of ``kind``: ``0``, ``1``, ..., or by kind ``kind``, ``kind_1``, ..."""
        if self.taken is not None:
            name = self.merge(kind)
            while self.taken(name):
                name = self.merge(kind)
            return name
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
