"""Reading a spec file: YAML -> validated models -> resolved blocks, with every error located."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

import networkx as nx
from pydantic import BaseModel, ValidationError

from archspec.errors import FieldPath, SpecError
from archspec.ops import OPS
from archspec.spec.schema import (
    BlockDef,
    BlockItem,
    BlockLibrary,
    HeadSpec,
    Item,
    NetworkSpec,
    OpItem,
    ParallelItem,
    RepeatItem,
    ResidualItem,
    SeqItem,
    StageRow,
)
from archspec.spec.source import FileError, Source, read_yaml

ALIASES = {"stride": ("s",), "n": ("repeats", "layers"), "block": ("op", "operator")}
_RESERVED_ITEM_KEYS = {"name", "when"}


@dataclass(frozen=True)
class BlockRef:
    """A block definition together with the file and field path it was written at."""

    name: str
    definition: BlockDef
    source: Source
    path: FieldPath


def data_path(data: Any, loc: tuple[Any, ...], missing: bool = False) -> FieldPath:
    """Map a pydantic error location onto the data's own path (dropping union tags, resolving aliases); for a
    ``missing`` field the last part is the absent field's name."""
    path: list[str | int] = []
    for i, part in enumerate(loc):
        following = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(data, dict):
            key = next((k for k in (part, *ALIASES.get(str(part), ())) if k in data), None)
            if key is None:
                if following is None and missing:
                    path.append(part)  # the missing field
                if following is None or not isinstance(part, str):
                    break
                continue  # a union tag
            # a union tag that happens to be a key too (``op``, ``parallel``, ``repeat``): the next part is in this
            # mapping and not below the key, or it is the missing field and the key's value holds no fields
            absent = missing and i == len(loc) - 2 and not isinstance(data[key], dict)
            if following is not None and (_holds(data, following) or absent) and not _holds(data[key], following):
                continue
            path.append(key)
            data = data[key]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            path.append(part)
            data = data[part]
    return tuple(path)


def _holds(data: Any, part: Any) -> bool:
    if isinstance(data, dict):
        return part in data or any(a in data for a in ALIASES.get(str(part), ()))
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def describe_error(error: dict[str, Any]) -> str:
    """A short, plain message for one pydantic error."""
    kind, ctx, got = error["type"], error.get("ctx") or {}, quoted(error.get("input"))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field{_suggest(str(error['loc'][-1]))}"
    for key, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx and kind.endswith(("_equal", "_than")):
            return f"must be {sign} {ctx[key]}, got {got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {got}"
    if kind == "finite_number":
        return f"must be a finite number, got {got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {got}"
    if kind in ("string_type",):
        return f"must be a string, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping, got {got}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list, got {got}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}, got {got}"
    return error["msg"]


MAX_QUOTE = 60


def quoted(value: Any, limit: int = MAX_QUOTE) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never carries a whole line of someone's file."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer past Python's digit limit, a structure nested too deep
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


_VOCABULARY: set[str] = set()


def _suggest(word: str) -> str:
    if not _VOCABULARY:
        for model in (NetworkSpec, StageRow, BlockDef, OpItem, BlockItem, SeqItem, ParallelItem, ResidualItem,
                      RepeatItem):
            _VOCABULARY.update(model.model_fields)
        for op in OPS.values():
            _VOCABULARY.update(op.Attrs.model_fields)
    close = [match for match in difflib.get_close_matches(word, sorted(_VOCABULARY), n=2) if match != word]
    return f" (did you mean {close[0]!r}?)" if close else ""  # a field known elsewhere is no suggestion here


def validate(model: type[BaseModel], data: Any, source: Source, base: FieldPath = ()) -> Any:
    """Validate ``data`` against ``model``; the first problem becomes a located SpecError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = first_error(exc)
        path = (*base, *data_path(data, error["loc"], missing=error["type"] == "missing"))
        raise source.error(path, describe_error(error), key=error["type"] == "extra_forbidden") from None


def first_error(exc: ValidationError) -> dict[str, Any]:
    """The most specific error: pydantic reports one per union member, so prefer the deepest location."""
    errors = exc.errors()
    return max(errors, key=lambda e: (len(e["loc"]), -errors.index(e)))


class ItemChecker:
    """Checks the ops, blocks and arguments that items use, against the blocks a spec can see."""

    def __init__(self, blocks: dict[str, BlockRef]) -> None:
        self.blocks = blocks

    def check_section(self, items: list[Item], source: Source, section: str) -> None:
        """Check every item of a network section (``stem`` or ``head``)."""
        for i, item in enumerate(items):
            list(self.walk(item, source, (section, i)))

    def walk(self, item: Item, source: Source, path: FieldPath) -> Iterator[tuple[str, FieldPath]]:
        """Yield (block name, path) for every block used under ``item``, checking ops on the way."""
        if isinstance(item, OpItem):
            self.check_args(item.op, item.attrs, source, path, primitive_only=True)
        elif isinstance(item, BlockItem):
            self.check_args(item.block, item.args, source, path)
            if item.block in self.blocks:
                yield item.block, path
        elif isinstance(item, SeqItem):
            seq_path = path if isinstance(source.data_at(path), list) else (*path, "seq")
            for i, child in enumerate(item.seq):
                yield from self.walk(child, source, (*seq_path, i))
        elif isinstance(item, ParallelItem):
            for i, child in enumerate(item.parallel):
                yield from self.walk(child, source, (*path, "parallel", i))
        elif isinstance(item, ResidualItem):
            yield from self.walk(item.residual, source, (*path, "residual"))
            if item.shortcut is not None:
                yield from self.walk(item.shortcut, source, (*path, "shortcut"))
        elif isinstance(item, RepeatItem):
            yield from self.walk(item.body, source, (*path, "body"))

    def check_args(self, name: str, args: dict[str, Any], source: Source, path: FieldPath,
                   primitive_only: bool = False) -> None:
        """Check that ``name`` is a known block (or op) and takes every argument given."""
        key = "op" if primitive_only else "block"
        if not primitive_only and name in self.blocks:
            allowed = set(self.blocks[name].definition.params)
            what = f"block {quoted(name)}"
        elif name in OPS:
            allowed = set(OPS[name].Attrs.model_fields)
            what = f"op {name!r}"
        else:
            known = sorted(OPS) if primitive_only else sorted({*self.blocks, *OPS})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            kind = "op" if primitive_only else "block or op"
            raise source.error((*path, written_key(source, path, key)), f"unknown {kind} {quoted(name)}{hint}")
        for arg in args:
            if arg not in allowed:
                close = difflib.get_close_matches(arg, sorted(allowed), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                raise source.error((*path, arg), f"{what} has no parameter {quoted(arg)} ({hint})", key=True)


@lru_cache(maxsize=64)
def read_library(path: str, mtime_ns: int, size: int) -> tuple[BlockLibrary, Source]:
    """A validated block library; cached per file version (real path, modification time, size), since many specs
    import the same few libraries, and one library may be imported under many spellings."""
    source = read_yaml(path)
    return validate(BlockLibrary, source.data, source), source


SHIPPED_LIBRARY = FsPath(__file__).resolve().parents[2] / "specs"
PATH_VARIABLE = "ARCHSPEC_PATH"
PATH_MAX = 4096  # Linux's longest path: an import is named in full unless it could not be a path at all


@dataclass(frozen=True)
class Root:
    """A folder a spec may import from: as written, made absolute (``abspath``) and with symlinks resolved."""

    written: FsPath
    absolute: FsPath
    real: FsPath

    def holds(self, path: str) -> bool:
        """Whether the absolute ``path`` lies in this folder (in either of its absolute spellings)."""
        return FsPath(path).is_relative_to(self.absolute) or FsPath(path).is_relative_to(self.real)


def import_roots(spec_folder: FsPath) -> list[Root]:
    """The folders a spec may import from, in lookup order: the spec's own folder, each ARCHSPEC_PATH entry, the
    block library shipped with archspec."""
    extra = [FsPath(entry) for entry in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if entry]
    roots: list[Root] = []
    for folder in (spec_folder, *extra, SHIPPED_LIBRARY):
        real = FsPath(os.path.realpath(folder))
        if all(real != root.real for root in roots):
            roots.append(Root(folder, FsPath(os.path.abspath(folder)), real))
    return roots


def find_import(written: str, roots: list[Root]) -> tuple[str, str] | bool:
    """(label, real path) of the library file ``written`` names in the first of ``roots`` that holds it; else
    whether it lies outside them (through ``..``, an absolute path or a symlink).

    That is decided from the path alone, so a refusal never tells whether a file outside exists."""
    outside = False
    bases = [] if "\0" in written else [FsPath("/")] if os.path.isabs(written) else [r.written for r in roots]
    for base in bases:  # no path holds a NUL character
        label = os.path.normpath(base / written)
        real = os.path.realpath(label)
        if not any(root.holds(os.path.abspath(label)) for root in roots) or not any(root.holds(real) for root in roots):
            outside = True
        elif os.path.exists(real):
            return label, real
    return outside


class Resolver:
    """Collects the blocks a spec can use and checks every reference statically."""

    def __init__(self, spec: NetworkSpec, source: Source) -> None:
        self.spec, self.source = spec, source
        self.blocks: dict[str, BlockRef] = {}
        self.roots = import_roots(FsPath(source.file).parent)
        for index, written in enumerate(spec.imports):
            library, library_source = self.library(index, written)
            for name, definition in library.blocks.items():
                self.blocks[name] = BlockRef(name, definition, library_source, ("blocks", name))
        for name, definition in spec.blocks.items():
            self.blocks[name] = BlockRef(name, definition, source, ("blocks", name))

    def find(self, index: int, written: str) -> tuple[str, str]:
        """(label, real path) of the library ``imports[index]`` names: the first root that holds it."""
        found = find_import(written, self.roots)
        if isinstance(found, tuple):
            return found
        reason = "lies outside the folders a spec may import from (see ARCHSPEC_PATH)" if found else "not found"
        raise self.source.error(("imports", index), f"block library {quoted(written, PATH_MAX)} {reason}")

    def library(self, index: int, written: str) -> tuple[BlockLibrary, Source]:
        """The block library ``imports[index]`` names, parsed once per real file and labelled as found."""
        label, real = self.find(index, written)
        try:
            stat = os.stat(real)
            library, source = read_library(real, stat.st_mtime_ns, stat.st_size)
        except (FileError, OSError) as exc:
            reason = exc.reason if isinstance(exc, FileError) else f"cannot read file: {exc.strerror}"
            name = quoted(written, PATH_MAX)
            raise self.source.error(("imports", index), f"block library {name}: {reason}") from None
        except SpecError as exc:
            raise type(exc)(exc.message, replace(exc.location, file=label) if exc.location else None) from None
        return library, replace(source, file=label)

    def check(self) -> dict[str, BlockRef]:
        """Check ops, blocks and arguments everywhere; reject cyclic block references."""
        checker = ItemChecker(self.blocks)
        uses = nx.DiGraph()
        for ref in self.blocks.values():
            uses.add_node(ref.name)
            for key in ("channel_params", "depth_params"):
                for i, param in enumerate(getattr(ref.definition, key)):
                    if param not in ref.definition.params:
                        raise ref.source.error((*ref.path, key, i), f"{quoted(param)} is not a parameter")
            for used, path in checker.walk(ref.definition.body, ref.source, (*ref.path, "body")):
                uses.add_edge(ref.name, used, path=path, source=ref.source)
        for section in ("stem", "head"):
            checker.check_section(getattr(self.spec, section), self.source, section)
        for i, row in enumerate(self.spec.stages):
            checker.check_args(row.block, row.args, self.source, ("stages", i))
        try:
            cycle = nx.find_cycle(uses)
        except nx.NetworkXNoCycle:
            return self.blocks
        first = uses.edges[cycle[0][0], cycle[0][1]]
        chain = " -> ".join([*(u for u, _ in cycle), cycle[0][0]])
        raise first["source"].error(first["path"], f"blocks refer to each other in a cycle: {chain}")


def written_key(source: Source, path: FieldPath, key: str) -> str:
    """The spelling of a field as written at ``path`` (``s`` for ``stride``, ``layers`` for ``n``, ...)."""
    data = source.data_at(path)
    if isinstance(data, dict):
        for candidate in (key, *ALIASES.get(key, ())):
            if candidate in data:
                return candidate
    return key


def read_spec(path: str | FsPath) -> tuple[NetworkSpec, Source, dict[str, BlockRef]]:
    """Read, validate and resolve a network spec file."""
    source = read_yaml(path)
    if not isinstance(source.data, dict):
        raise source.error((), "a spec must be a mapping with at least a name")
    spec = validate(NetworkSpec, source.data, source)
    blocks = Resolver(spec, source).check()
    return spec, source, blocks


def read_head(source: Source, blocks: dict[str, BlockRef]) -> list[Item]:
    """Validate a replacement head (a mapping ``head: [items]``, as in a spec) against a spec's blocks."""
    if not isinstance(source.data, dict):
        raise source.error((), "a head must be a mapping with a 'head' list, as in a spec")
    head = validate(HeadSpec, source.data, source).head
    ItemChecker(blocks).check_section(head, source, "head")
    return head
