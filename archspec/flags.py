"""Command-line values: numbers within stated ranges, sizes, and ``--set`` values read like spec files."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from archspec.api import parse_size
from archspec.errors import SpecError
from archspec.spec.locate import describe_error
from archspec.spec.schema import NetworkSpec
from archspec.spec.source import parse_yaml

_NAME = TypeAdapter(Annotated[str, NetworkSpec.model_fields["name"]])


def number(flag: str, low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite float from ``low`` (excluded when ``low_open``) to ``high``."""
    above = f"> {low:g}" if low_open else f">= {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise SpecError(f"{flag} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise SpecError(f"{flag} must be a finite number, got {text.strip()}")
        if value < low or (low_open and value == low) or value > high:
            raise SpecError(f"{flag} must be {above} and <= {high:g}, got {text.strip()}")
        return value

    return parse


def integer(flag: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        digits = text.strip().lstrip("+-")
        if not digits.isdecimal() or not digits.isascii():
            raise SpecError(f"{flag} must be an integer, got {text!r}")
        if len(digits) > len(str(high)) or not low <= int(text) <= high:
            raise SpecError(f"{flag} must be an integer from {low} to {high}, got {_short(text.strip())}")
        return int(text)

    return parse


def _short(text: str, keep: int = 24) -> str:
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text)} characters)"


def size(flag: str) -> Callable[[str], int]:
    """An argparse type: a size in bytes such as ``8G`` (see ``archspec.api.parse_size``)."""
    return lambda text: parse_size(text, flag)


def network_name(text: str) -> str:
    """An argparse type: a network name as a spec's ``name`` field allows."""
    try:
        return _NAME.validate_python(text)
    except ValidationError as exc:
        raise SpecError(f"--name {describe_error(exc.errors()[0])}") from None


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=relu"]`` -> ``{"a": 1, "b": "relu"}``; each value is read as YAML, with a spec file's limits."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SpecError(f"--set expects NAME=VALUE, got {_short(pair, 60)!r}")
        name = name.strip()
        try:
            value = parse_yaml(text, f"--set {name}").data if text.strip() else None
        except SpecError as exc:
            raise SpecError(f"--set {name}: {exc.message}") from None
        if isinstance(value, dict) or value is None:
            raise SpecError(f"--set {name}: expected a number, string, boolean or list, got {_short(text, 60)!r}")
        values[name] = value
    return values
