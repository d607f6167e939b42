"""Spec -> IR: the one place where stage rows and blocks expand into primitive nodes.

Shapes are inferred while expanding, because block parameters may depend on the incoming shape
(``in_channels``, e.g. MBConv's expansion width); every other analysis runs afterwards as a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from archspec.errors import FieldPath, GraphError, Site, SpecError
from archspec.ir.graph import About, BlockCall, Graph, Node, Stage, collection_paused
from archspec.ir.scope import Namer, Scope, attrs_key, qualify
from archspec.ops import OPS
from archspec.ops.base import Op, ShapeError
from archspec.spec.expr import ExprError, referenced_name, resolve
from archspec.spec.locate import data_path, describe_error, first_error, written_key
from archspec.spec.schema import (
    BlockItem,
    BlockRef,
    Item,
    NetworkSpec,
    OpItem,
    ParallelItem,
    RepeatItem,
    ResidualItem,
    SeqItem,
    StageRow,
)
from archspec.spec.source import Source
from archspec.spec.variables import resolve_variables
from archspec.spec.visit import ItemVisitor

MAX_BLOCK_DEPTH = 32
# Limits on expansion, checked before the work. The largest library network has under 1,000 nodes; analysing
# 20,000 takes about 1.2 s of CPU and 110 MB, 50,000 take 2.8 s, so the cap leaves twenty times the library's
# largest and keeps every input within the hostile-input budget (5 s, 1 GB). Items are counted apart from nodes
# because a repeat of an empty body adds none; nesting stays below Python's recursion limit.
MAX_NODES = 20_000
MAX_ITEMS = 100_000
MAX_NESTING = 200


# What an item is applied to: the node whose output it reads, and the scope it expands in (a plain tuple: one
# is made per item expanded, and a NamedTuple's constructor costs a Python call)
Flow = tuple[str, Scope]


class Builder(ItemVisitor[Flow, str]):
    """Expands a validated NetworkSpec into a Graph of primitive nodes with inferred shapes."""

    def __init__(self, spec: NetworkSpec, source: Source, blocks: dict[str, BlockRef],
                 head_source: Source | None = None) -> None:
        self.spec, self.source, self.blocks = spec, source, blocks
        self.head_source = head_source or source  # a replaced head comes from a file of its own
        numbers = {name: value for name, value in spec.variables.items()
                   if isinstance(value, int | float) and not isinstance(value, bool) and name != "num_classes"}
        self.graph = Graph(spec.name, about=About(spec.description, spec.paper, spec.reported, numbers))
        self.side_outputs: list[str] = []
        self.variables = dict(spec.variables)
        self.variable_origins = {k: Site(source, ("variables", k)) for k in spec.variables}
        # validated attributes by op and values: attributes are immutable, and networks repeat the same ones
        self.attrs_seen: dict[tuple[Any, ...], Any] = {}
        self.items = 0  # items expanded so far
        self.nesting = 0  # items being expanded, one inside the other

    # 1. network: input, stem, stages, head
    def build(self) -> Graph:
        """Build the whole graph."""
        with collection_paused():
            return self._network()

    def _network(self) -> Graph:
        # bounded (and lists counted once) as results are; expressions of other variables evaluated once
        self.variables = resolve_variables(self.variables, self.variable_origins)
        resolution = self.spec.input.resolution
        height, width = resolution if isinstance(resolution, tuple) else (resolution, resolution)
        self.graph.add(Node("input", None, None, [], "input", None, Site(self.source, ("input",)),
                            shape=(self.spec.input.channels, height, width)))
        x = "input"
        x = self._section("stem", self.spec.stem, x)
        rows = [(i, row, self._repeats(i, row)) for i, row in enumerate(self.spec.stages)
                if self._row_enabled(i, row)]
        num_blocks = sum(n for _, row, n in rows if row.block in self.blocks and not row.side)
        block_index = 0
        for i, row, n in rows:
            x, block_index = self._stage(i, row, n, x, block_index, num_blocks)
        x = self._section("head", self.spec.head, x, self.head_source)
        self.graph.outputs = [x, *self.side_outputs]
        return self.graph

    def _network_scope(self, prefix: str, stage: str, source: Source | None = None,
                       namer: Namer | None = None) -> Scope:
        values = {**self.variables, "num_stages": len(self.spec.stages)}
        return Scope(values, dict(self.variable_origins), source or self.source, prefix, namer or Namer(), stage)

    def _section(self, name: str, items: list[Item], x: str, source: Source | None = None) -> str:
        if not items:
            return x
        self.graph.stages[name] = Stage(name, self.graph[x].shape)
        # the stem is one module; the head's items are the network's own children, as hand-written networks have
        # ``avgpool`` and ``fc``, so that the classifier is swapped by attribute
        if name == "head":
            scope = self._network_scope("", name, source, Namer(taken=self.graph.has_name))
        else:
            scope = self._network_scope(name, name, source)
        for i, item in enumerate(items):
            x = self._item(item, x, scope, (name, i))
        return x

    def _repeats(self, index: int, row: StageRow) -> int:
        path = ("stages", index, written_key(self.source, ("stages", index), "n"))
        n = self._value(row.n, self._network_scope("", ""), path)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
            raise self.source.error(path, f"repeats must be an integer between 1 and 10000, got {n!r}")
        return n

    def _row_enabled(self, index: int, row: StageRow) -> bool:
        if row.when is None:
            return True
        scope = self._network_scope("", "")
        return bool(self._value(row.when, scope, ("stages", index, "when")))

    # 2. stage rows: a block or primitive repeated n times; the stride applies to the first repeat
    def _stage(self, index: int, row: StageRow, n: int, x: str, block_index: int,
               num_blocks: int) -> tuple[str, int]:
        path: FieldPath = ("stages", index)
        name = row.name or f"stage{index + 1}"
        if name in self.graph.stages or name in ("stem", "head", "input"):
            raise self.source.error((*path, "name"), f"duplicate stage name {name!r}")
        input_shape = self.graph[x].shape
        scope = self._network_scope(name, name)
        if row.resolution is not None:
            actual = self.graph[x].shape[1:]
            if len(actual) != 2 or actual[0] != row.resolution:
                raise GraphError(f"the table says resolution {row.resolution}, but the input here is "
                                 f"{'x'.join(map(str, actual))}", Site(self.source, (*path, "resolution")))
        args = {key: (value, Site(self.source, (*path, key))) for key, value in row.args.items()}
        values = self._values(args, scope)
        if row.stride is not None:
            stride_path = (*path, written_key(self.source, path, "stride"))
            values["stride"] = self._value(row.stride, scope, stride_path)
        written = self.source.data_at(path)
        self.graph.stages[name] = Stage(name, input_shape, index, row.block, row.block in self.blocks,
                                        tuple(written) if isinstance(written, dict) else (*values, "n"),
                                        {**values, "n": n})
        entry = x
        first_block = block_index

        def one(repeat: int, x: str) -> str:
            row_args = dict(args)
            if row.stride is not None:
                row_args["stride"] = (row.stride if repeat == 0 else 1, Site(self.source, stride_path))
            instance = qualify(name, str(repeat)) if n > 1 else name
            if row.block not in self.blocks:
                return self._op(row.block, row_args, x, scope, path, instance)
            builtins = {"repeat_index": repeat, "block_index": first_block + (0 if row.side else repeat),
                        "num_blocks": num_blocks, "stage_index": index}
            return self._block(row.block, row_args, x, scope, path, instance, builtins)

        x = self._repeated(n, x, one, Site(self.source, (*path, written_key(self.source, path, "n"))), scope)
        if row.block in self.blocks and not row.side:
            block_index += n
        if row.side:
            self.side_outputs.append(x)
            return entry, block_index
        return x, block_index

    def _repeated(self, count: int, x: str, one: Callable[[int, str], str], where: Site, scope: Scope) -> str:
        """``one`` applied ``count`` times in sequence; once the first has been built, the rest are refused before
        they are built if as many again would pass the limits."""
        for index in range(count):
            nodes, items = len(self.graph), self.items
            x = one(index, x)
            more = count - 1 - index
            if index == 0 and more:
                for added, total, limit, what in ((len(self.graph) - nodes, len(self.graph), MAX_NODES, "nodes"),
                                                  (self.items - items, self.items, MAX_ITEMS, "items")):
                    if total + added * more > limit:
                        raise GraphError(f"network expands to more than {limit} {what} ({count} repeats of "
                                         f"{added}){self._context(scope)}", where)
        return x

    # 3. items: op, block, sequence, parallel branches, residual, repeat (one visitor method each)
    def _item(self, item: Item, x: str, scope: Scope, path: FieldPath) -> str:
        """Expand one item applied to node ``x``; its output's node name. A false ``when`` is the identity."""
        self.items += 1
        if self.items > MAX_ITEMS:
            raise GraphError(f"network expands to more than {MAX_ITEMS} items{self._context(scope)}",
                             Site(scope.source, path))
        if self.nesting >= MAX_NESTING:
            raise GraphError(f"items nest deeper than {MAX_NESTING} levels (blocks included){self._context(scope)}",
                             Site(scope.source, path))
        if item.when is not None and not self._value(item.when, scope, (*path, "when")):
            return x
        self.nesting += 1
        try:
            return self.visit(item, path, (x, scope))
        finally:
            self.nesting -= 1

    def source_of(self, context: Flow) -> Source:
        """Items are located in the file of the scope they expand in."""
        return context[1].source

    def visit_op(self, item: OpItem, path: FieldPath, context: Flow) -> str:
        """One node."""
        x, scope = context
        name = qualify(scope.prefix, item.name or scope.namer.next_index(item.op))
        raw = {k: (v, Site(scope.source, (*path, k))) for k, v in item.attrs.items()}
        if item.functional and type(OPS[item.op]).function is Op.function:
            raise SpecError(f"op {item.op!r} has no function form (functional: true is for activations and "
                            f"pooling){self._context(scope)}", Site(scope.source, (*path, "functional")))
        name = self._op(item.op, raw, x, scope, path, name)
        if item.functional:
            self.graph[name].functional = True
        return name

    def visit_block(self, item: BlockItem, path: FieldPath, context: Flow) -> str:
        """The block's body, with its parameters bound."""
        x, scope = context
        name = qualify(scope.prefix, item.name or scope.namer.next_index(item.block))
        raw = {k: (v, Site(scope.source, (*path, k))) for k, v in item.args.items()}
        return self._block(item.block, raw, x, scope, path, name, {})

    def _inner(self, item: Item, scope: Scope) -> Scope:
        return scope.child(qualify(scope.prefix, item.name)) if item.name else scope

    def visit_seq(self, item: SeqItem, path: FieldPath, context: Flow) -> str:
        """Each item applied to the previous one's output."""
        x, scope = context
        inner = self._inner(item, scope)
        for child in self.children(item, path, context):
            x = self._item(child.item, x, inner, child.path)
        return x

    def visit_parallel(self, item: ParallelItem, path: FieldPath, context: Flow) -> str:
        """Each branch applied to the input, then the merge."""
        x, scope = context
        inner = self._inner(item, scope)
        outs = [self._item(child.item, x, inner, child.path) for child in self.children(item, path, context)]
        return self._merge(item.merge, outs, inner, path)

    def visit_residual(self, item: ResidualItem, path: FieldPath, context: Flow) -> str:
        """The body added to the shortcut (the identity unless given), or the body alone when not connected."""
        x, scope = context
        inner = self._inner(item, scope)
        body, *shortcut = self.children(item, path, context)
        out = self._item(body.item, x, inner, body.path)
        if not self._value(item.connect, scope, (*path, "connect")):
            return out
        skip = x if not shortcut else self._item(shortcut[0].item, x, inner, shortcut[0].path)
        return self._merge("add", [out, skip], inner, path)

    def visit_repeat(self, item: RepeatItem, path: FieldPath, context: Flow) -> str:
        """The body applied ``repeat`` times; with a name, repetition i is named ``name.i``."""
        x, scope = context
        count = self._value(item.repeat, scope, (*path, "repeat"))
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10_000:
            raise scope.source.error((*path, "repeat"), f"repeat must be an integer between 0 and 10000, "
                                                        f"got {count!r}{self._context(scope)}")
        (child,) = self.children(item, path, context)

        def one(index: int, x: str) -> str:
            body = child.item
            if item.name:
                named = body.name is None
                body = body.model_copy(update={"name": f"{item.name}.{index}" if named else body.name})
                each = scope if named else scope.child(qualify(scope.prefix, f"{item.name}.{index}"))
            else:
                each = scope
            return self._item(body, x, replace(each, values={**each.values, "index": index}), child.path)

        return self._repeated(count, x, one, Site(scope.source, (*path, "repeat")), scope)

    def _merge(self, kind: str, outs: list[str], scope: Scope, path: FieldPath) -> str:
        if len(outs) == 1:
            return outs[0]
        op = OPS[kind]
        name = qualify(scope.prefix, scope.namer.merge(op.name))
        attrs = op.Attrs()
        return self._add_node(op, attrs, outs, name, scope, Site(scope.source, path))

    def _op(self, kind: str, raw: dict[str, tuple[Any, Site]], x: str,
            scope: Scope, path: FieldPath, name: str) -> str:
        op = OPS[kind]
        attrs = self._attrs(op, kind, raw, scope, path)
        return self._add_node(op, attrs, [x], name, scope, Site(scope.source, path))

    def _attrs(self, op, kind: str, raw: dict[str, tuple[Any, Site]], scope: Scope, path: FieldPath) -> Any:
        """The op's validated attributes, reused when the same values were validated before."""
        values = self._values(raw, scope)
        key = attrs_key(kind, values)
        if key is not None and key in self.attrs_seen:
            return self.attrs_seen[key]
        try:
            attrs = op.Attrs.model_validate(values)
        except ValidationError as exc:
            error = first_error(exc)
            field = str(error["loc"][0]) if error["loc"] else ""
            value, where = raw.get(field, (None, Site(scope.source, path)))
            blamed = referenced_name(value)
            if blamed and blamed in scope.origins:
                where = scope.origins[blamed]
            elif isinstance(value, list):  # a list written out: blame its element (``kernel: [3, 0]``)
                where = Site(where.source, (*where.path, *data_path(value, error["loc"][1:])))
            raise SpecError(describe_error(error) + self._context(scope), where) from None
        if key is not None:
            self.attrs_seen[key] = attrs
        return attrs

    def _add_node(self, op, attrs, inputs: list[str], name: str, scope: Scope, origin: Site) -> str:
        if len(self.graph) >= MAX_NODES:
            raise GraphError(f"network expands to more than {MAX_NODES} nodes{self._context(scope)}", origin)
        try:
            shape = op.infer(attrs, [self.graph[i].shape for i in inputs])
        except ShapeError as exc:
            raise GraphError(f"{name} ({op.name}): {exc}{self._context(scope)}", origin) from None
        if any(size < 1 for size in shape):
            raise GraphError(f"{name} ({op.name}): output shape {list(shape)} collapses below 1"
                             f"{self._context(scope)}", origin)
        self.graph.add(Node(name, op, attrs, inputs, scope.stage, scope.block, origin, shape=shape))
        return name

    # 4. blocks: bind parameters (argument > network variable > default), expand the body
    def _block(self, kind: str, args: dict[str, tuple[Any, Site]], x: str, scope: Scope, path: FieldPath,
               name: str, builtins: dict[str, Any]) -> str:
        if kind not in self.blocks:
            return self._op(kind, args, x, scope, path, name)
        if scope.depth >= MAX_BLOCK_DEPTH:
            raise scope.source.error(path, f"blocks nest deeper than {MAX_BLOCK_DEPTH}")
        ref = self.blocks[kind]
        site = scope.call_site or Site(scope.source, path)  # where the network file uses the block
        shape = self.graph[x].shape
        values: dict[str, Any] = {"in_channels": shape[0], "in_shape": list(shape), "in_dim": shape[-1],
                                  **builtins}
        if len(shape) == 3:
            values["in_size"] = shape[1]
        values.update(self.variables)
        origins: dict[str, Site] = dict(self.variable_origins)
        defaults = Scope(values, origins, ref.source, name, Namer(), scope.stage, name, scope.depth + 1,
                         context=name, call_site=site)  # defaults see the parameters bound before them
        for param, default in ref.definition.params.items():
            if param in args:
                value, where = args[param]
                values[param] = self._value(value, scope, where.path, where)
                origins[param] = scope.origins.get(referenced_name(value) or "", where)
            elif param in self.variables:
                continue
            elif default is None:
                raise scope.source.error(path, f"block {kind!r} needs parameter {param!r}{self._context(scope)}")
            else:
                where = Site(ref.source, (*ref.path, "params", param))
                values[param] = self._value(default, defaults, where.path, where)
                origins[param] = where
        self.graph.calls[name] = BlockCall(kind, {param: values[param] for param in args
                                                  if param in ref.definition.params})
        body_scope = replace(defaults, block=scope.block or name)
        return self._item(ref.definition.body, x, body_scope, (*ref.path, "body"))

    def _values(self, raw: dict[str, tuple[Any, Site]], scope: Scope) -> dict[str, Any]:
        try:
            return {key: resolve(value, scope.values) for key, (value, _) in raw.items()}
        except ExprError:
            for value, where in raw.values():  # again, one by one, to blame the right one
                self._value(value, scope, where.path, where)
            raise

    def _value(self, value: Any, scope: Scope, path: FieldPath, where: Site | None = None) -> Any:
        try:
            return resolve(value, scope.values)
        except ExprError as exc:
            raise SpecError(f"{exc}{self._context(scope)}", where or Site(scope.source, path)) from None

    @staticmethod
    def _context(scope: Scope) -> str:
        if not scope.context or scope.call_site is None:
            return ""
        site = scope.call_site.location()
        place = f"{site.line}:{site.column}"
        if site.file != scope.source.file:
            place = f"{site.file}:{place}"
        return f" (in {scope.context}, used at {place})"

