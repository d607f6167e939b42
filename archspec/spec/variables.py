"""A network's variables, some of them expressions of the others, evaluated once in dependency order."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import networkx as nx

from archspec.errors import Site, SpecError
from archspec.spec.expr import ExprError, is_expression, parsed, resolve


def _names(value: Any) -> set[str]:
    """The names the expressions in ``value`` read, less those their comprehensions bind."""
    if isinstance(value, list):
        return set().union(*(_names(v) for v in value))
    if not is_expression(value):
        return set()
    tree = parsed(value[1:])
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return read - bound


def resolve_variables(variables: Mapping[str, Any], origins: Mapping[str, Site]) -> dict[str, Any]:
    """Every variable's value, an expression evaluated against the variables it names (each before it is used);
    a cycle, or an expression that fails, is an error at that variable."""
    order: nx.DiGraph[str] = nx.DiGraph()
    for name, value in variables.items():
        order.add_node(name)
        try:
            used = _names(value)
        except ExprError as exc:
            raise SpecError(str(exc), origins[name]) from None
        order.add_edges_from((other, name) for other in used if other in variables)
    try:
        cycle = nx.find_cycle(order)
    except nx.NetworkXNoCycle:
        pass
    else:
        position = {name: i for i, name in enumerate(variables)}
        names = [used for used, _ in cycle]  # each used by the next, from the one written first
        first = min(range(len(names)), key=lambda i: position[names[i]])
        names = names[first:] + names[:first]
        chain = " -> ".join([*names, names[0]])
        raise SpecError(f"variables refer to each other in a cycle: {chain}", origins[names[0]])
    values: dict[str, Any] = {}
    for name in nx.lexicographical_topological_sort(order):
        try:
            values[name] = resolve(variables[name], values)
        except ExprError as exc:
            raise SpecError(str(exc), origins[name]) from None
    return {name: values[name] for name in variables}
