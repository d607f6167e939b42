"""The one walk over spec items: each item's children with their field paths, and visitors built on them.

The builder (``ir.build``), the loader's static checks (``spec.load``), scaling (``transforms.scaling``) and the
docs all see the item union through this module, so a new kind of item is taught to each of them in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from archspec.errors import FieldPath
from archspec.spec.schema import BlockItem, Item, OpItem, ParallelItem, RepeatItem, ResidualItem, SeqItem

if TYPE_CHECKING:
    from archspec.spec.source import Source

Context = TypeVar("Context")
Result = TypeVar("Result")


class Child(NamedTuple):
    """An item directly inside another: the field holding it, the item, and its field path in the file."""

    field: str  # seq, parallel, residual, shortcut or body
    item: Item
    path: FieldPath


_new = tuple.__new__


def children(item: Item, path: FieldPath = (), source: Source | None = None) -> list[Child]:
    """The items directly inside ``item`` in order (none for ops and blocks); with the ``source`` the item was
    read from, a sequence written as a plain YAML list gets the list's own path."""
    # tuple.__new__ builds each Child in C: the NamedTuple constructor is a Python call, and the builder asks
    # for the children of every item it expands (a tenth of the time to build a ResNet)
    if isinstance(item, SeqItem):
        base = path if source is not None and isinstance(source.data_at(path), list) else (*path, "seq")
        return [_new(Child, ("seq", child, (*base, i))) for i, child in enumerate(item.seq)]
    if isinstance(item, ParallelItem):
        return [_new(Child, ("parallel", child, (*path, "parallel", i))) for i, child in enumerate(item.parallel)]
    if isinstance(item, ResidualItem):
        shortcut = [] if item.shortcut is None else [_new(Child, ("shortcut", item.shortcut, (*path, "shortcut")))]
        return [_new(Child, ("residual", item.residual, (*path, "residual"))), *shortcut]
    if isinstance(item, RepeatItem):
        return [_new(Child, ("body", item.body, (*path, "body")))]
    return []


class ItemVisitor(Generic[Context, Result]):
    """Dispatches an item to the method of its kind; subclasses implement the six and choose what to recurse into
    (through ``children``), so that each walk states only what it does differently."""

    def source_of(self, context: Context) -> Source | None:
        """The file the items under ``context`` were read from (it decides the paths of plain-list sequences)."""
        return None

    def visit(self, item: Item, path: FieldPath, context: Context) -> Result:
        """Visit one item: dispatch on its kind."""
        if isinstance(item, OpItem):
            return self.visit_op(item, path, context)
        if isinstance(item, BlockItem):
            return self.visit_block(item, path, context)
        if isinstance(item, SeqItem):
            return self.visit_seq(item, path, context)
        if isinstance(item, ParallelItem):
            return self.visit_parallel(item, path, context)
        if isinstance(item, ResidualItem):
            return self.visit_residual(item, path, context)
        if isinstance(item, RepeatItem):
            return self.visit_repeat(item, path, context)
        raise TypeError(f"not a spec item: {type(item).__name__}")

    def children(self, item: Item, path: FieldPath, context: Context) -> list[Child]:
        """``item``'s children with their paths in the file ``context`` names."""
        return children(item, path, self.source_of(context))

    def visit_op(self, item: OpItem, path: FieldPath, context: Context) -> Result:
        """A primitive op."""
        raise NotImplementedError

    def visit_block(self, item: BlockItem, path: FieldPath, context: Context) -> Result:
        """A use of a named block."""
        raise NotImplementedError

    def visit_seq(self, item: SeqItem, path: FieldPath, context: Context) -> Result:
        """Items in sequence."""
        raise NotImplementedError

    def visit_parallel(self, item: ParallelItem, path: FieldPath, context: Context) -> Result:
        """Branches and their merge."""
        raise NotImplementedError

    def visit_residual(self, item: ResidualItem, path: FieldPath, context: Context) -> Result:
        """A body added to a shortcut."""
        raise NotImplementedError

    def visit_repeat(self, item: RepeatItem, path: FieldPath, context: Context) -> Result:
        """A body repeated in sequence."""
        raise NotImplementedError


class ItemWalker(ItemVisitor[Context, None]):
    """Visits every item once, containers before their children; ops and blocks are leaves that do nothing
    unless a subclass says so."""

    def visit_op(self, item: OpItem, path: FieldPath, context: Context) -> None:
        """Nothing by default."""

    def visit_block(self, item: BlockItem, path: FieldPath, context: Context) -> None:
        """Nothing by default (a block's own body is walked from its definition)."""

    def visit_children(self, item: Item, path: FieldPath, context: Context) -> None:
        """Visit each child in order."""
        for child in self.children(item, path, context):
            self.visit(child.item, child.path, context)

    def visit_seq(self, item: SeqItem, path: FieldPath, context: Context) -> None:
        """Each item of the sequence."""
        self.visit_children(item, path, context)

    def visit_parallel(self, item: ParallelItem, path: FieldPath, context: Context) -> None:
        """Each branch."""
        self.visit_children(item, path, context)

    def visit_residual(self, item: ResidualItem, path: FieldPath, context: Context) -> None:
        """The body, then the shortcut."""
        self.visit_children(item, path, context)

    def visit_repeat(self, item: RepeatItem, path: FieldPath, context: Context) -> None:
        """The body, once."""
        self.visit_children(item, path, context)


class ItemTransformer(ItemVisitor[Context, Item]):
    """Returns a new item tree: containers are rebuilt from their transformed children, ops and blocks are kept
    unless a subclass replaces them."""

    def visit_op(self, item: OpItem, path: FieldPath, context: Context) -> Item:
        """The op unchanged by default."""
        return item

    def visit_block(self, item: BlockItem, path: FieldPath, context: Context) -> Item:
        """The block use unchanged by default."""
        return item

    def rebuild(self, item: Item, path: FieldPath, context: Context) -> Item:
        """A copy of ``item`` holding its transformed children."""
        update: dict[str, Any] = {}
        for child in self.children(item, path, context):
            new = self.visit(child.item, child.path, context)
            if child.field in ("seq", "parallel"):
                update.setdefault(child.field, []).append(new)
            else:
                update[child.field] = new
        return item.model_copy(update=update) if update else item

    def visit_seq(self, item: SeqItem, path: FieldPath, context: Context) -> Item:
        """The sequence of transformed items."""
        return self.rebuild(item, path, context)

    def visit_parallel(self, item: ParallelItem, path: FieldPath, context: Context) -> Item:
        """The transformed branches."""
        return self.rebuild(item, path, context)

    def visit_residual(self, item: ResidualItem, path: FieldPath, context: Context) -> Item:
        """The transformed body and shortcut."""
        return self.rebuild(item, path, context)

    def visit_repeat(self, item: RepeatItem, path: FieldPath, context: Context) -> Item:
        """The transformed body."""
        return self.rebuild(item, path, context)


def with_args(item: OpItem | BlockItem, values: dict[str, Any]) -> OpItem | BlockItem:
    """A copy of an op or block use with some of its written attributes (or arguments) replaced."""
    if not values:
        return item
    return type(item).model_validate({**item.model_dump(exclude_defaults=True), **values})
