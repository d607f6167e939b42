"""The functions an expression may call, each with the one line that documents it."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

# a list an expression makes or reads holds at most this many values (nested lists counted), and a comprehension
# runs at most this many steps in one evaluation: the work of one evaluation stays that of reading one such list
MAX_LIST_VALUES = 10_000
MAX_NDIGITS = 30
MAX_MESSAGE = 300


class ExprError(ValueError):
    """An expression that cannot be evaluated; the caller adds the location."""


@dataclass(frozen=True)
class Function:
    """A function of the expression language and what it computes."""

    call: Callable[..., Any]
    doc: str
    example: str  # an expression of literals only, evaluated for the reference page


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor`` without going more than 10% below it (TF/torchvision rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _number(value: Any) -> float | Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def _ceil(value: float | Fraction) -> int:
    return math.ceil(value)


def _round(value: float | Fraction, ndigits: int | None = None) -> int | float | Fraction:
    # Python rounds an int to -n digits by computing 10**n, which never ends for n = 10**9
    if ndigits is not None and (isinstance(ndigits, bool) or not isinstance(ndigits, int)
                                or abs(ndigits) > MAX_NDIGITS):
        raise ValueError(f"ndigits must be an integer between -{MAX_NDIGITS} and {MAX_NDIGITS}, got {ndigits!r}")
    return round(value, ndigits)


def _log(value: Any) -> float:
    return math.log(_number(value))


def _float32(value: Any) -> float:
    # struct rounds to the nearest float32 (ties to even), as a float32 tensor op stores its result
    return float(struct.unpack("f", struct.pack("f", float(_number(value))))[0])


def _range(*bounds: Any) -> list[int]:
    if not 1 <= len(bounds) <= 3 or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds):
        raise TypeError("takes one to three integers (stop; start, stop; start, stop, step)")
    steps = range(*bounds)  # a range knows its length without being made
    if len(steps) > MAX_LIST_VALUES:
        raise ValueError(f"would hold {len(steps)} values, more than {MAX_LIST_VALUES}")
    return list(steps)


def _len(values: Any) -> int:
    return len(_list(values))


def _sum(values: Any) -> float | Fraction:
    return sum((_number(v) for v in _list(values)), 0)


def _count(values: Any, value: Any) -> int:
    return _list(values).count(value)


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(_list(values)))  # first occurrences, in order


def _error(*parts: Any) -> None:
    raise ExprError(" ".join(str(p) for p in parts)[:MAX_MESSAGE])


FUNCTIONS: dict[str, Function] = {
    "min": Function(min, "the smallest of its arguments, or of one list", "min(3, 8)"),
    "max": Function(max, "the largest of its arguments, or of one list", "max([48, 104])"),
    "int": Function(int, "a number truncated toward zero to an integer", "int(-7.9)"),
    "float": Function(float, "a number as a float", "float(3)"),
    "round": Function(_round, "a number rounded to an integer, or to `ndigits` decimals; halves to even",
                      "round(2.5)"),
    "abs": Function(abs, "a number's magnitude", "abs(-4)"),
    "ceil": Function(_ceil, "the least integer at or above a number", "ceil(2.1)"),
    "floor": Function(math.floor, "the greatest integer at or below a number", "floor(2.9)"),
    "make_divisible": Function(make_divisible, "`make_divisible(v, divisor=8, min_value=divisor)`: "
                                               "`max(min_value, int(v + divisor / 2) // divisor * divisor)`, plus "
                                               "divisor where that is below `0.9 * v` (the TF/torchvision rule)",
                               "make_divisible(10, 8)"),
    "log": Function(_log, "the natural logarithm of a positive number", "log(2.09)"),
    "float32": Function(_float32, "a number rounded to the nearest float32, to compute as a float32 tensor op "
                                  "does", "float32(0.1)"),
    "range": Function(_range, "`range(stop)`, `range(start, stop[, step])`: the list of those integers, at most "
                              f"{MAX_LIST_VALUES}", "range(2, 11, 3)"),
    "len": Function(_len, "the number of values in a list", "len([48, 104, 104])"),
    "sum": Function(_sum, "the sum of a list of numbers", "sum([1, 2, 3])"),
    "count": Function(_count, "`count(list, value)`: how many times value occurs in the list",
                      "count([48, 104, 104], 104)"),
    "unique": Function(_unique, "a list's distinct values, in the order they first occur",
                       "unique([48, 104, 104, 208])"),
    "error": Function(_error, "stops with an error whose message is its arguments joined by spaces (for a "
                              "condition the spec needs: `x if ok else error('...')`)",
                      "error('needs 4 stages, got', 3)"),
}
