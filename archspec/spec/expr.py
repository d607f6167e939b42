"""Arithmetic expressions in specs (``$c * t``): a small, safe evaluator over a fixed vocabulary."""

from __future__ import annotations

import ast
import math
import operator
from collections import ChainMap
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from fractions import Fraction
from functools import lru_cache
from typing import Any, TypeGuard

from archspec.spec.functions import FUNCTIONS, MAX_LIST_VALUES
from archspec.spec.functions import ExprError as ExprError

EXPR_PREFIX = "$"


_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
MAX_EXPR_LENGTH = 500
# every value an expression gives, and every intermediate one, stays within these: a spec's numbers are sizes and
# counts, and lists of them, so nothing legitimate comes near, while doubling a list or an integer a few dozen
# times would otherwise exhaust memory or time (and Python cannot print an int past 4,300 digits)
MAX_INT = 2**63

def is_expression(value: object) -> TypeGuard[str]:
    """True for strings written as expressions (``$name`` or ``$a * b``)."""
    return isinstance(value, str) and value.startswith(EXPR_PREFIX)


def referenced_name(value: object) -> str | None:
    """The single name an expression consists of (``$stride`` -> ``stride``), else None."""
    if is_expression(value):
        text = value[len(EXPR_PREFIX):].strip()
        if text.isidentifier():
            return text
    return None


Evaluator = Callable[[Mapping[str, Any]], Any]
_CONSTANTS = {"True": True, "False": False, "None": None}


# comprehension steps left to the evaluation under way: each evaluation may take MAX_LIST_VALUES, however its
# comprehensions nest, so one costs what reading one long list costs
_steps_left: ContextVar[list[int]] = ContextVar("steps_left")


def parsed(text: str) -> ast.expr:
    """The syntax tree of an expression's text (without its ``$``), bounded in length."""
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprError(f"expression longer than {MAX_EXPR_LENGTH} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ExprError(f"cannot parse expression {text.strip()!r}") from None


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Evaluator:
    # specs repeat a few expressions thousands of times: parse and check each once, then call a closure
    body = _compile(parsed(text))

    def evaluate(scope: Mapping[str, Any]) -> Any:
        token = _steps_left.set([MAX_LIST_VALUES])
        try:
            return body(scope)
        finally:
            _steps_left.reset(token)

    return evaluate


def _compile(node: ast.AST) -> Evaluator:
    """A closure evaluating ``node`` against a scope; unsupported syntax is refused here, once."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | type(None)):
        constant = checked(node.value)
        return lambda scope: constant
    if isinstance(node, ast.Name):
        return _name(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _binary(_BINARY[type(node.op)], isinstance(node.op, ast.Pow), _compile(node.left),
                       _compile(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda scope: not operand(scope)
        sign = -1 if isinstance(node.op, ast.USub) else 1
        return lambda scope: checked(sign * _number(operand(scope)))
    if isinstance(node, ast.BoolOp):
        values = [_compile(v) for v in node.values]
        combine = all if isinstance(node.op, ast.And) else any
        return lambda scope: combine([value(scope) for value in values])
    if isinstance(node, ast.Compare):
        if any(type(op) not in _COMPARE for op in node.ops):
            raise ExprError("unsupported comparison")
        return _comparison(_compile(node.left), [(_COMPARE[type(op)], _compile(right))
                                                 for op, right in zip(node.ops, node.comparators, strict=True)])
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda scope: body(scope) if test(scope) else orelse(scope)
    if isinstance(node, ast.Subscript):
        return _subscript(_compile(node.value), _compile(node.slice))
    if isinstance(node, ast.List | ast.Tuple):
        elements = [_compile(e) for e in node.elts]
        return lambda scope: checked([element(scope) for element in elements])
    if isinstance(node, ast.ListComp):
        return _comprehension(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ExprError(f"unknown function {node.func.id!r} (known: {', '.join(sorted(FUNCTIONS))})")
        return _call(node.func.id, [_compile(a) for a in node.args])
    raise ExprError(f"unsupported syntax in expression: {ast.unparse(node)!r}")


def _name(name: str) -> Evaluator:
    def value(scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise ExprError(f"unknown name {name!r} (known: {', '.join(sorted(scope)) or 'none'})")

    return value


def _binary(function: Callable[[Any, Any], Any], is_power: bool, left: Evaluator, right: Evaluator) -> Evaluator:
    def value(scope: Mapping[str, Any]) -> Any:
        a, b = _number(left(scope)), _number(right(scope))
        # mypy solves abs() of a float | Fraction as object, which has no order
        if is_power and (abs(b) > 64 or abs(a) > 1e6):  # type: ignore[operator]
            raise ExprError("exponent too large")
        try:
            return checked(function(a, b))
        except (TypeError, ArithmeticError) as exc:
            raise ExprError(str(exc)) from None

    return value


def _comparison(first: Evaluator, rest: list[tuple[Callable[[Any, Any], bool], Evaluator]]) -> Evaluator:
    def value(scope: Mapping[str, Any]) -> bool:
        left = first(scope)
        for compare, comparator in rest:
            right = comparator(scope)
            try:
                if not compare(left, right):
                    return False
            except TypeError as exc:
                raise ExprError(str(exc)) from None
            left = right
        return True

    return value


def _subscript(container_of: Evaluator, index_of: Evaluator) -> Evaluator:
    def value(scope: Mapping[str, Any]) -> Any:
        container, index = container_of(scope), index_of(scope)
        if not isinstance(container, list) or isinstance(index, bool) or not isinstance(index, int):
            raise ExprError("only lists can be indexed, by an integer")
        try:
            return container[index]
        except IndexError:
            raise ExprError(f"index {index} is out of range for a list of {len(container)}") from None

    return value


def _comprehension(node: ast.ListComp) -> Evaluator:
    """``[element for name in values]``: one loop over a list, no conditions."""
    if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async \
            or not isinstance(node.generators[0].target, ast.Name):
        raise ExprError("a comprehension takes one 'for NAME in LIST' and no 'if'")
    name, values_of, element = node.generators[0].target.id, _compile(node.generators[0].iter), _compile(node.elt)

    def value(scope: Mapping[str, Any]) -> Any:
        values, steps = values_of(scope), _steps_left.get()
        if not isinstance(values, list):
            raise ExprError(f"a comprehension loops over a list, got {values!r}")
        results = []
        for v in values:
            steps[0] -= 1
            if steps[0] < 0:
                raise ExprError(f"comprehensions take more than {MAX_LIST_VALUES} steps in one expression")
            results.append(element(ChainMap({name: v}, scope)))  # type: ignore[arg-type]
        return checked(results)

    return value


def _call(name: str, arguments: list[Evaluator]) -> Evaluator:
    function = FUNCTIONS[name].call

    def value(scope: Mapping[str, Any]) -> Any:
        values = [argument(scope) for argument in arguments]  # their own errors are not this function's
        try:
            result = function(*values)
        except ExprError:
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ExprError(f"{name}(): {exc}") from None
        return checked(result)

    return value


def _number(value: Any) -> float | Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise ExprError(f"expected a number, got {value!r}")
    return value


class Values(list):
    """A list already counted: ``size`` values through its nested lists, at most ``MAX_LIST_VALUES``."""

    size: int = 0


def checked(value: Any) -> Any:
    """``value``, unless it is a number beyond the bounds (non-finite, or an int past ``MAX_INT``) or a list of more
    than ``MAX_LIST_VALUES`` values counted through nested lists; a list comes back as ``Values``."""
    return _checked(value, {})


def _checked(value: Any, seen: dict[int, Values]) -> Any:
    # a list is counted once, when made: a list of ten copies of one list of 10,000 costs ten steps, not 100,000,
    # and the thousandth block using a parameter's list costs nothing. Shared lists (YAML aliases) stay shared.
    if isinstance(value, Values):
        return value
    if isinstance(value, list):
        if id(value) not in seen:
            values = Values(_checked(v, seen) for v in value)
            values.size = sum(v.size if isinstance(v, Values) else 1 for v in values)
            if values.size > MAX_LIST_VALUES:
                raise ExprError(f"must hold at most {MAX_LIST_VALUES} values (nested lists counted)")
            seen[id(value)] = values
        return seen[id(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"must be a finite number, got {value}")
    if isinstance(value, int | Fraction) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
        raise ExprError("must be at most 2**63 in magnitude")
    return value


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate ``value`` if it is an expression, recursing into lists; other values pass through; the result is
    ``checked``."""
    return checked(_resolve(value, scope))


def _resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _compiled(value[1:])(scope) if value[:1] == EXPR_PREFIX else value
    if isinstance(value, list):
        return [_resolve(v, scope) for v in value]
    return value
