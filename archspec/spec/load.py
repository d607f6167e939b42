"""Reading a spec file: YAML -> validated models -> resolved blocks, with every error located."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

import networkx as nx

from archspec.errors import FieldPath, SpecError
from archspec.ops import OPS
from archspec.spec.locate import quoted, validate, written_key
from archspec.spec.schema import (
    BlockItem,
    BlockLibrary,
    BlockRef,
    HeadSpec,
    Item,
    NetworkSpec,
    OpItem,
    VariantSpec,
)
from archspec.spec.source import FileError, Source, VariantSource, read_yaml
from archspec.spec.visit import ItemWalker


class ItemChecker(ItemWalker[Source]):
    """Checks the ops, blocks and arguments that items use, against the blocks a spec can see; the context is the
    file the items were read from."""

    def __init__(self, blocks: dict[str, BlockRef]) -> None:
        self.blocks = blocks
        self.used: list[tuple[str, FieldPath]] = []  # (block, path) of every block use visited

    def source_of(self, context: Source) -> Source:
        """Items are located in the file they were read from."""
        return context

    def check_section(self, items: list[Item], source: Source, section: str) -> None:
        """Check every item of a network section (``stem`` or ``head``)."""
        for i, item in enumerate(items):
            self.visit(item, (section, i), source)

    def uses(self, item: Item, source: Source, path: FieldPath) -> list[tuple[str, FieldPath]]:
        """(block name, path) of every block used under ``item``, checking ops on the way."""
        self.used = []
        self.visit(item, path, source)
        return self.used

    def visit_op(self, item: OpItem, path: FieldPath, source: Source) -> None:
        """An op must exist and take every attribute written."""
        self.check_args(item.op, item.attrs, source, path, primitive_only=True)

    def visit_block(self, item: BlockItem, path: FieldPath, source: Source) -> None:
        """A block (or op) must exist and take every argument written."""
        self.check_args(item.block, item.args, source, path)
        if item.block in self.blocks:
            self.used.append((item.block, path))

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


SHIPPED_LIBRARY = FsPath(__file__).resolve().parents[1] / "specs"
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
        uses: nx.DiGraph[str] = nx.DiGraph()
        for ref in self.blocks.values():
            uses.add_node(ref.name)
            for key in ("channel_params", "depth_params"):
                for i, param in enumerate(getattr(ref.definition, key)):
                    if param not in ref.definition.params:
                        raise ref.source.error((*ref.path, key, i), f"{quoted(param)} is not a parameter")
            for used, path in checker.uses(ref.definition.body, ref.source, (*ref.path, "body")):
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


def read_spec(path: str | FsPath, variant_of: Source | None = None
              ) -> tuple[NetworkSpec, Source, dict[str, BlockRef]]:
    """Read, validate and resolve a network spec file, or a variant of one (a file with ``extends``)."""
    source = read_yaml(path)
    if not isinstance(source.data, dict):
        raise source.error((), "a spec must be a mapping with at least a name")
    if "extends" in source.data:
        if variant_of is not None:
            raise variant_of.error(("extends",), "extends a variant: a variant's base must be a whole spec")
        return _read_variant(source)
    spec = validate(NetworkSpec, source.data, source)
    blocks = Resolver(spec, source).check()
    return spec, source, blocks


def _read_variant(source: Source) -> tuple[NetworkSpec, Source, dict[str, BlockRef]]:
    """The base spec a variant names, with the variant's variables set and its own name and records; errors in
    the base's body stay located in the base's file, those of a variable it sets in the variant's."""
    variant = validate(VariantSpec, source.data, source)
    base_path = FsPath(source.file).parent / f"{variant.extends}.yaml"
    if not base_path.is_file():
        raise source.error(("extends",), f"no spec {quoted(variant.extends)} beside this file ({base_path.name})")
    base, base_source, blocks = read_spec(base_path, variant_of=source)
    for name in variant.variables:
        if name not in base.variables:
            known = ", ".join(sorted(base.variables)) or "none"
            raise source.error(("variables", name), f"{variant.extends} has no {quoted(name)} variable to set "
                                                    f"(variables: {known})", key=True)
    own = variant.model_dump(include={"name", "description", "paper", "reported", "reference", "notes"},
                             exclude_none=True)
    network = base.model_copy(update={
        **{key: getattr(variant, key) for key in own},
        "variables": {**base.variables, **variant.variables},
    })
    return network, VariantSource(**vars(base_source), variant=source), blocks


def read_head(source: Source, blocks: dict[str, BlockRef]) -> list[Item]:
    """Validate a replacement head (a mapping ``head: [items]``, as in a spec) against a spec's blocks."""
    if not isinstance(source.data, dict):
        raise source.error((), "a head must be a mapping with a 'head' list, as in a spec")
    head = validate(HeadSpec, source.data, source).head
    ItemChecker(blocks).check_section(head, source, "head")
    return head
