"""Safe YAML reading that remembers the line and column of every value."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

import yaml

from archspec.errors import FieldPath, Location, SpecError

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 200_000
MAX_DEPTH = 64
MAX_INT_DIGITS = 4_000  # below Python's 4,300-digit limit on int <-> str, so every integer can be printed
_INT_BOUND = 10**MAX_INT_DIGITS


@dataclass
class Source:
    """A parsed YAML document with the position of each value, addressed by field path."""

    file: str
    data: Any
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: FieldPath, key: bool = False) -> Location:
        """The location of the value at ``path`` (or of its key), else of its nearest located ancestor."""
        probe = tuple(path)
        if key and probe in self.key_positions:
            return Location(self.file, *self.key_positions[probe], probe)
        while probe not in self.positions and probe:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (0, 0))
        return Location(self.file, line, column, tuple(path))

    def data_at(self, path: FieldPath) -> Any:
        """The value at ``path``, or None when the path does not exist."""
        data = self.data
        for part in path:
            try:
                data = data[part]
            except (KeyError, IndexError, TypeError):
                return None
        return data

    def error(self, path: FieldPath, message: str, key: bool = False) -> SpecError:
        """A SpecError located at ``path`` (at its key when ``key``)."""
        return SpecError(message, self.locate(path, key))


@dataclass
class VariantSource(Source):
    """A base spec's source in which the variables a variant sets are found, and located, in the variant's file."""

    variant: Source | None = None  # a default only because the base class's fields have them

    def _holder(self, path: FieldPath) -> Source | None:
        """The variant's source when the path is in a variable the variant sets, else None."""
        if self.variant is not None and len(path) > 1 and path[0] == "variables" \
                and path[1] in (self.variant.data.get("variables") or {}):
            return self.variant
        return None

    def locate(self, path: FieldPath, key: bool = False) -> Location:
        holder = self._holder(path)
        return holder.locate(path, key) if holder is not None else super().locate(path, key)

    def data_at(self, path: FieldPath) -> Any:
        holder = self._holder(path)
        return holder.data_at(path) if holder is not None else super().data_at(path)


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions and bounding expansion."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.count = 0

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.source.error(path, f"document expands to more than {MAX_VALUES} values (alias bomb?)")
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

    def _scalar(self, node: yaml.Node, path: FieldPath) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.source.error(path, "mapping keys must be plain names")
        at = Location(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1, path)
        if node.tag == "tag:yaml.org,2002:str":
            return yaml.SafeLoader.construct_scalar(_CONSTRUCTOR, node)
        too_long = SpecError(f"must be an integer of at most {MAX_INT_DIGITS} digits", at)
        # a literal twice that long cannot be short enough; checked first since base 60 constructs in quadratic time
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > 2 * MAX_INT_DIGITS:
            raise too_long
        try:
            # the constructor's own construct_object would remember every node it ever built
            value = _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        except ValueError:  # a decimal literal past Python's own digit limit
            raise too_long from None
        except yaml.MarkedYAMLError as exc:
            raise SpecError(f"cannot read value: {exc.problem or exc}", at) from None
        if isinstance(value, int) and not -_INT_BOUND < value < _INT_BOUND:
            raise too_long
        return value


_CONSTRUCTOR = yaml.SafeLoader("")
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes, 10x faster


class _Loader(_BASE_LOADER):
    """The safe loader, resolving each distinct plain scalar's implicit tag once (libyaml calls back into Python's
    regular expressions for every scalar, which was a third of the time a large library took)."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return str(super().resolve(kind, value, implicit))
        if not implicit[0] or value[:1] not in _RESOLVED_STARTS:  # quoted, or plainly a string by its first letter
            return str(yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG)
        return _scalar_tag(value, tuple(implicit))


_TAG_RESOLVER = yaml.SafeLoader("")
_RESOLVED_STARTS = set(_TAG_RESOLVER.yaml_implicit_resolvers)  # first characters of ints, floats, bools, nulls, ...


@lru_cache(maxsize=65_536)
def _scalar_tag(value: str, implicit: tuple[bool, bool] | None) -> str:
    return str(_TAG_RESOLVER.resolve(yaml.ScalarNode, value, implicit))


_LOADER = _Loader


def _parser_limits_nesting() -> bool:
    """Whether the parser refuses deep nesting itself (libyaml 0.2.5 and later stop at 1,000 levels, before its
    recursive composer could exhaust the stack); otherwise ``_check_nesting`` scans the tokens first."""
    try:
        yaml.compose("[" * 2_000 + "]" * 2_000, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        return "nesting depth" in str(exc.problem)
    except RecursionError:
        return False
    return False


_NESTING_LIMITED = _parser_limits_nesting()


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML (and libyaml's marks) count as a line break


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
        at = len(text.encode()[: exc.position].decode(errors="ignore")) if _BASE_LOADER is not yaml.SafeLoader \
            else exc.position
        breaks = [0, *(match.end() for match in _LINE_BREAK.finditer(text, 0, at))]
        line, column = len(breaks), at - breaks[-1] + 1
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
    if _NESTING_LIMITED or _nesting_bound(text) <= SAFE_COMPOSER_DEPTH:
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


class FileError(SpecError):
    """A file that cannot be read as a whole: missing, unreadable, not a regular file, too large, not UTF-8."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(reason, Location(file))
        self.reason = reason


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_regular(file: str, mode: int) -> None:
    """Refuse anything but a regular file (a FIFO would block the reader, a device never end)."""
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise FileError(file, f"not a regular file ({kind})")


def file_path(path: object) -> str:
    """``path`` as a string, when it is one (or bytes, or os.PathLike): an integer would be taken for a file
    descriptor (0 is standard input), anything else fails deep in the reader."""
    if isinstance(path, bytes):
        return os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        raise SpecError(f"expected the path of a file, got {type(path).__name__}")
    if not os.fspath(path):
        raise SpecError("expected the path of a file, got an empty name")
    return os.fspath(path)


def regular_file_size(path: str | FsPath) -> int:
    """The size of ``path`` when it is a regular file; anything else raises FileError (nothing is opened)."""
    path = file = file_path(path)
    try:
        mode = os.stat(path)
    except OSError as exc:
        raise FileError(file, f"cannot read file: {exc.strerror}") from None
    except ValueError:  # a NUL character, which no path can hold
        raise FileError(file, "cannot read file: No such file or directory") from None
    check_regular(file, mode.st_mode)
    return mode.st_size


def read_file(path: str | FsPath, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, refused before reading anything else.

    The type is checked before opening (opening a device can act) and again on the open descriptor (the path may
    have changed); the open never blocks on a FIFO; at most ``limit + 1`` bytes are read, since a file can grow."""
    path = file = file_path(path)
    regular_file_size(path)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise FileError(file, f"cannot read file: {exc.strerror}") from None
    try:
        opened = os.fstat(handle)
        check_regular(file, opened.st_mode)
        if opened.st_size > limit:
            raise FileError(file, f"file is larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(handle, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileError(file, f"cannot read file: {exc.strerror}") from None
    finally:
        os.close(handle)
    if size > limit:
        raise FileError(file, f"file is larger than {limit} bytes")
    return b"".join(chunks)


def read_text(path: str | FsPath) -> str:
    """The UTF-8 text of a spec-language file (see read_file)."""
    try:
        return read_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise FileError(file_path(path), "file is not UTF-8 text") from None


def read_yaml(path: str | FsPath) -> Source:
    """Read and parse a YAML file; a missing, unreadable or special file is a SpecError too."""
    return parse_yaml(read_text(path), file_path(path))
