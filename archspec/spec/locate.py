"""Locating problems in a spec: pydantic errors mapped onto the data's own field paths, in plain words."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from archspec.errors import FieldPath
from archspec.ops import OPS
from archspec.spec.schema import (
    ROW_ALIASES,
    BlockDef,
    BlockItem,
    NetworkSpec,
    OpItem,
    ParallelItem,
    RepeatItem,
    ResidualItem,
    SeqItem,
    StageRow,
)
from archspec.spec.source import Source


def data_path(data: Any, loc: tuple[Any, ...], missing: bool = False) -> FieldPath:
    """Map a pydantic error location onto the data's own path (dropping union tags, resolving aliases); for a
    ``missing`` field the last part is the absent field's name."""
    path: list[str | int] = []
    for i, part in enumerate(loc):
        following = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(data, dict):
            key = next((k for k in (part, *ROW_ALIASES.get(str(part), ())) if k in data), None)
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
        return part in data or any(a in data for a in ROW_ALIASES.get(str(part), ()))
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def describe_error(error: ErrorDetails) -> str:
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


def first_error(exc: ValidationError) -> ErrorDetails:
    """The most specific error: pydantic reports one per union member, so prefer the deepest location."""
    errors = exc.errors()
    return max(errors, key=lambda e: (len(e["loc"]), -errors.index(e)))



def written_key(source: Source, path: FieldPath, key: str) -> str:
    """The spelling of a field as written at ``path`` (``s`` for ``stride``, ``layers`` for ``n``, ...)."""
    data = source.data_at(path)
    if isinstance(data, dict):
        for candidate in (key, *ROW_ALIASES.get(key, ())):
            if candidate in data:
                return candidate
    return key
