"""Safe YAML reading that remembers the line and column of every value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from archspec.errors import Location, Path, SpecError

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64


@dataclass
class Source:
    """A parsed YAML document with the position of each value, addressed by field path."""

    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, key: bool = False) -> Location:
        """The location of the value at ``path`` (or of its key), else of its nearest located ancestor."""
        probe = tuple(path)
        if key and probe in self.key_positions:
            return Location(self.file, *self.key_positions[probe], probe)
        while probe not in self.positions and probe:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (0, 0))
        return Location(self.file, line, column, tuple(path))

    def data_at(self, path: Path) -> Any:
        """The value at ``path``, or None when the path does not exist."""
        data = self.data
        for part in path:
            try:
                data = data[part]
            except (KeyError, IndexError, TypeError):
                return None
        return data

    def error(self, path: Path, message: str, key: bool = False) -> SpecError:
        """A SpecError located at ``path`` (at its key when ``key``)."""
        return SpecError(message, self.locate(path, key))


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions and bounding expansion."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.source.error(path, f"document expands to more than {MAX_NODES} values (alias bomb?)")
        if len(path) > MAX_DEPTH:
            raise self.source.error(path, f"values nest deeper than {MAX_DEPTH} levels")
        self.source.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node, path)
                if not isinstance(key, str | int | float | bool) or isinstance(key, bool):
                    raise self.source.error(path, f"mapping keys must be names, got {key!r}")
                key = str(key)
                if key in out:
                    raise SpecError(
                        f"duplicate key {key!r}",
                        Location(self.source.file, key_node.start_mark.line + 1,
                                 key_node.start_mark.column + 1, (*path, key)),
                    )
                self.source.key_positions[(*path, key)] = (key_node.start_mark.line + 1,
                                                           key_node.start_mark.column + 1)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.source.error(path, "mapping keys must be plain names")
        try:
            return yaml.SafeLoader.construct_scalar(_CONSTRUCTOR, node) if node.tag == "tag:yaml.org,2002:str" \
                else _CONSTRUCTOR.construct_object(node)
        except yaml.YAMLError as exc:
            raise SpecError(f"cannot read value: {exc.problem or exc}",
                            Location(self.source.file, node.start_mark.line + 1,
                                     node.start_mark.column + 1, path)) from None


_CONSTRUCTOR = yaml.SafeLoader("")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes, 10x faster


def parse_yaml(text: str, file: str) -> Source:
    """Parse YAML text with the safe loader only; every problem becomes a located SpecError."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES} bytes", Location(file))
    source = Source(file, None)
    try:
        _check_nesting(text, file)
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise SpecError(f"YAML syntax: {exc.problem or exc.context}", Location(file, line, col)) from None
    except yaml.reader.ReaderError as exc:
        # libyaml reads the UTF-8 encoding: its position counts bytes, not characters
        at = len(text.encode()[: exc.position].decode(errors="ignore")) if _LOADER is not yaml.SafeLoader \
            else exc.position
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise SpecError(f"YAML syntax: unacceptable character {exc.character!r} ({exc.reason})",
                        Location(file, line, column)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML syntax: {' '.join(str(exc).split())}", Location(file)) from None
    if root is None:
        raise SpecError("file is empty", Location(file, 1, 1))
    _check_tags(root, source)
    source.data = _Builder(source).build(root, ())
    return source


_OPENERS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
            yaml.FlowSequenceStartToken)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


SAFE_COMPOSER_DEPTH = 5_000  # far below where libyaml's recursive composer overflows the C stack (~100k)


def _nesting_bound(text: str) -> int:
    """An upper bound on how deep ``text`` can nest: every flow level opens a bracket, and a block collection
    starts at least one column further in than its parent's (an indentless sequence at most every other level)."""
    longest_line = max(map(len, text.splitlines()), default=0)
    return text.count("[") + text.count("{") + 2 * (longest_line + 1)


def _check_nesting(text: str, file: str) -> None:
    """Refuse deep nesting from the token stream, before the (recursive) composer could overflow the stack.

    Files that cannot nest deeply skip the scan; deeper nesting than MAX_DEPTH is then refused while building."""
    if _nesting_bound(text) <= SAFE_COMPOSER_DEPTH:
        return
    depth = 0
    for token in yaml.scan(text, Loader=_LOADER):
        if isinstance(token, _OPENERS):
            depth += 1
            if depth > 2 * MAX_DEPTH:
                mark = token.start_mark
                raise SpecError(f"values nest deeper than {MAX_DEPTH} levels",
                                Location(file, mark.line + 1, mark.column + 1))
        elif isinstance(token, _CLOSERS):
            depth -= 1


_SAFE_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq")
}


def _check_tags(root: yaml.Node, source: Source) -> None:
    """Reject explicit tags such as ``!!python/object`` before anything is constructed."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in _SAFE_TAGS:
            raise SpecError(f"tag {node.tag!r} is not allowed",
                            Location(source.file, node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def read_yaml(path: str | FsPath) -> Source:
    """Read and parse a YAML file; a missing or unreadable file is a SpecError too."""
    file = str(path)
    try:
        raw = FsPath(path).read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror}", Location(file)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES} bytes", Location(file))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("file is not UTF-8 text", Location(file)) from None
    return parse_yaml(text, file)
