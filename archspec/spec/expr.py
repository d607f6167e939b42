"""Arithmetic expressions in specs (``$c * t``): a small, safe evaluator over a fixed vocabulary."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any

EXPR_PREFIX = "$"


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor`` without going more than 10% below it (TF/torchvision rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _ceil(value: float | Fraction) -> int:
    return math.ceil(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "int": int, "float": float, "round": round, "abs": abs,
    "ceil": _ceil, "floor": math.floor, "make_divisible": make_divisible,
}

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
MAX_EXPR_LENGTH = 500


class ExprError(ValueError):
    """An expression that cannot be evaluated; the caller adds the location."""


def is_expression(value: object) -> bool:
    """True for strings written as expressions (``$name`` or ``$a * b``)."""
    return isinstance(value, str) and value.startswith(EXPR_PREFIX)


def referenced_name(value: object) -> str | None:
    """The single name an expression consists of (``$stride`` -> ``stride``), else None."""
    if is_expression(value):
        text = value[len(EXPR_PREFIX):].strip()
        if text.isidentifier():
            return text
    return None


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate an expression string (without its ``$``) against ``scope``."""
    return _eval(_parse(text), scope)


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.AST:
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprError(f"expression longer than {MAX_EXPR_LENGTH} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExprError(f"cannot parse expression {text.strip()!r}") from None


def _eval(node: ast.AST, scope: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | type(None)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in scope:
            return scope[node.id]
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise ExprError(f"unknown name {node.id!r} (known: {', '.join(sorted(scope)) or 'none'})")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _number(_eval(node.left, scope)), _number(_eval(node.right, scope))
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ExprError("exponent too large")
        try:
            return _BINARY[type(node.op)](left, right)
        except (TypeError, ArithmeticError) as exc:
            raise ExprError(str(exc)) from None
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, scope)
        if isinstance(node.op, ast.USub):
            return -_number(value)
        if isinstance(node.op, ast.UAdd):
            return +_number(value)
        if isinstance(node.op, ast.Not):
            return not value
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, scope) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, scope)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, scope)
            if type(op) not in _COMPARE:
                raise ExprError("unsupported comparison")
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise ExprError(str(exc)) from None
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, scope) if _eval(node.test, scope) else _eval(node.orelse, scope)
    if isinstance(node, ast.Subscript):
        container, index = _eval(node.value, scope), _eval(node.slice, scope)
        if not isinstance(container, list) or isinstance(index, bool) or not isinstance(index, int):
            raise ExprError("only lists can be indexed, by an integer")
        try:
            return container[index]
        except IndexError:
            raise ExprError(f"index {index} is out of range for {container}") from None
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, scope) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        func = FUNCTIONS.get(node.func.id)
        if func is None:
            raise ExprError(f"unknown function {node.func.id!r} (known: {', '.join(sorted(FUNCTIONS))})")
        try:
            return func(*[_eval(a, scope) for a in node.args])
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None
    raise ExprError(f"unsupported syntax in expression: {ast.unparse(node)!r}")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise ExprError(f"expected a number, got {value!r}")
    return value


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate ``value`` if it is an expression, recursing into lists; other values pass through."""
    if is_expression(value):
        return evaluate(value[len(EXPR_PREFIX):], scope)
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value
