"""The Python API reference page: the signatures and docstrings of the public API."""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from functools import cached_property
from typing import Any

from archspec.docs import markdown as md

# module -> names (None: the module's ``__all__``)
PYTHON_API: dict[str, tuple[str, ...] | None] = {"archspec": None, "archspec.analysis.report": ("Report", "Row")}


class _Raw:
    """An annotation kept as the text it was written as (``from __future__ import annotations``)."""

    def __init__(self, text: Any) -> None:
        self.text = text if isinstance(text, str) else inspect.formatannotation(text)

    def __repr__(self) -> str:
        return self.text


def signature(function: Callable[..., Any], method: bool = False) -> str:
    """``(path: str | FsPath, *, num_classes: int | None = None) -> Spec``, without ``self`` for methods."""
    sig = inspect.signature(function)
    empty = inspect.Parameter.empty
    parameters = [p.replace(annotation=_Raw(p.annotation) if p.annotation is not empty else empty)
                  for p in sig.parameters.values()]
    result = _Raw(sig.return_annotation) if sig.return_annotation is not empty else empty
    return str(sig.replace(parameters=parameters[1:] if method else parameters, return_annotation=result))


def _member_entries(cls: type) -> list[str]:
    lines = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | cached_property):
            getter = member.func if isinstance(member, cached_property) else member.fget
            assert getter is not None  # a property without a getter has nothing to document
            returns = inspect.signature(getter).return_annotation
            heading, doc = f"{cls.__name__}.{name} -> {_Raw(returns)}", inspect.getdoc(getter)
        elif inspect.isfunction(member):
            heading, doc = f"{cls.__name__}.{name}{signature(member, method=True)}", inspect.getdoc(member)
        else:
            continue
        lines += [f"```python\n{heading}\n```", "", md.docstring(doc), ""]
    return lines


def _api_entry(name: str, obj: Any) -> list[str]:
    if not inspect.isclass(obj):
        return [f"### {name}", "", f"```python\n{name}{signature(obj)}\n```", "", md.docstring(inspect.getdoc(obj)), ""]
    bases = [b.__name__ for b in obj.__bases__ if b is not object]
    lines = [f"### {name}", "", f"```python\nclass {name}" + (f"({', '.join(bases)})" if bases else "") + "\n```",
             "", md.docstring(inspect.getdoc(obj)), ""]
    if is_dataclass(obj):
        lines += [*md.table(["field", "type"], [[f"`{f.name}`", f"`{f.type}`"] for f in fields(obj)]), ""]
    return lines + _member_entries(obj)


def _exported(module: types.ModuleType) -> list[str]:
    """The module's ``__all__``: functions, then classes, then exceptions, each alphabetically."""
    def kind(name: str) -> tuple[bool, bool, str]:
        obj = getattr(module, name)
        return inspect.isclass(obj) and issubclass(obj, Exception), inspect.isclass(obj), name.lower()

    return sorted(module.__all__, key=kind)


def python_reference() -> str:
    """The Python API reference page: signatures and docstrings of the public API."""
    lines = ["# Python API reference", "", md.NOTE.format(source="the docstrings"), "",
             "Signatures and docstrings of the public API; the [guide](../api.md) shows it at work.", ""]
    for module_name, names in PYTHON_API.items():
        module = importlib.import_module(module_name)
        lines += [f"## {module_name}", "", md.docstring(inspect.getdoc(module)).split("\n\n")[0], ""]
        for name in names or _exported(module):
            lines += _api_entry(name, getattr(module, name))
    return "\n".join(lines).rstrip() + "\n"
