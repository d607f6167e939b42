"""The spec-language reference page: every field of every spec model, with its example, and every primitive op."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import annotated_types
import yaml
from pydantic import AliasChoices, BaseModel

from archspec.docs import markdown as md
from archspec.docs.examples import example
from archspec.docs.op_examples import example_lines
from archspec.ir.scope import BODY_NAMES
from archspec.ops import OPS, Op
from archspec.ops.base import Family
from archspec.spec import schema
from archspec.spec.expr import resolve
from archspec.spec.functions import FUNCTIONS, MAX_LIST_VALUES, ExprError
from archspec.spec.schema import Item

# the models of whole files, each documented first, in this order
FILES: tuple[type[BaseModel], ...] = (schema.NetworkSpec, schema.VariantSpec, schema.BlockLibrary, schema.HeadSpec)


def _yaml(value: Any) -> str:
    """A value written the way a spec writes it, on one line."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).splitlines()[0]


def _example_value(text: str) -> str:
    """What the expression ``text`` evaluates to, or the error it stops with, as the reference page shows it."""
    try:
        return f"`{resolve('$' + text, {})!r}`"
    except ExprError as error:
        return f"error: {error}"


CONSTRAINTS: dict[type, Callable[[Any], str]] = {
    annotated_types.Ge: lambda c: f"≥ {c.ge}",
    annotated_types.Gt: lambda c: f"> {c.gt}",
    annotated_types.Le: lambda c: f"≤ {c.le}",
    annotated_types.Lt: lambda c: f"< {c.lt}",
    annotated_types.MinLen: lambda c: "not empty" if c.min_length == 1 else f"at least {c.min_length} entries",
    annotated_types.MaxLen: lambda c: f"at most {c.max_length} entries",
}


def constraints(metadata: list[Any]) -> str:
    """Field constraints in words: ``≥ 1, ≤ 16384``, ``matches ^[a-z]+$``."""
    words = []
    for item in metadata:
        rule = CONSTRAINTS.get(type(item))
        if rule is not None:
            words.append(rule(item))
        elif getattr(item, "pattern", None):
            words.append(f"matches `{item.pattern}`")
    return ", ".join(words)


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def type_text(annotation: Any) -> str:
    """A type annotation in words, with spec models linked: ``int (≥ 1) or str``, ``list of item``."""
    if annotation == Item:
        return "[item](#items)"
    if annotation == schema.Value:
        return "[value](#values)"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        limits = constraints([rule for meta in args[1:] for rule in getattr(meta, "metadata", [])])
        return f"{type_text(args[0])} ({limits})" if limits else type_text(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in args)
    if origin is Literal:
        return " or ".join(f"`{_yaml(arg)}`" for arg in args)
    if origin is list:
        return "`list`" if args in ((), (Any,)) else f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[0])} to {type_text(args[1])}"
    if origin is tuple:
        return "[" + ", ".join(type_text(arg) for arg in args) + "]"
    if annotation is type(None):
        return "`null`"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    if isinstance(annotation, type):
        return f"`{annotation.__name__}`"
    raise TypeError(f"cannot document the type {annotation!r}: teach archspec.docs.spec_reference.type_text about it")


def _field_type(hint: Any) -> str:
    """A field's type; constraints of a bare ``Annotated`` type are left to the constraints column (pydantic
    moves them into the field's metadata)."""
    return type_text(get_args(hint)[0] if get_origin(hint) is Annotated else hint)


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    return f"`{_yaml(value)}`"


def field_rows(model: type[BaseModel]) -> list[list[str]]:
    """One row per field of a pydantic model: name (and other spellings), type, default, constraints, meaning."""
    hints = get_type_hints(model, include_extras=True)
    rows = []
    for name, info in model.model_fields.items():
        spellings = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else [name]
        rows.append([" or ".join(f"`{s}`" for s in spellings), _field_type(hints[name]), _default(info),
                     constraints(info.metadata), md.docstring(info.description)])
    return rows


def item_models() -> list[type[BaseModel]]:
    """The models an item can be, in the order of the ``Item`` union."""
    union = get_args(Item)[0]
    return [get_args(choice)[0] for choice in get_args(union)]


def spec_models() -> list[type[BaseModel]]:
    """Every model reachable from the file-level models, in order of first use."""
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                hints = get_type_hints(annotation, include_extras=True)
                for name in annotation.model_fields:
                    visit(hints[name])
            return
        for arg in get_args(annotation):
            visit(arg)

    for root in FILES:
        visit(root)
    return found


def _example(model: type[BaseModel]) -> list[str]:
    key, text = example(model)
    data = yaml.safe_load(text)
    model.model_validate(data[key] if key else data)
    return ["```yaml", text.rstrip(), "```"]


def _model_section(model: type[BaseModel]) -> list[str]:
    lines = [f"### {model.__name__} {{#{_anchor(model)}}}", "", md.docstring(inspect.getdoc(model)), ""]
    lines += md.table(["field", "type", "default", "constraints", "meaning"], field_rows(model))
    return [*lines, "", *_example(model), ""]


def _op_section(op: Op) -> list[str]:
    hints = get_type_hints(op.Attrs, include_extras=True)
    rows = [[f"`{name}`", _field_type(hints[name]), _default(info), constraints(info.metadata)]
            for name, info in op.Attrs.model_fields.items()]
    lines = [f"### {op.name} {{#op-{op.name}}}", "", md.docstring(inspect.getdoc(type(op))), ""]
    if op.Attrs.__doc__:
        lines += [md.docstring(inspect.getdoc(op.Attrs)), ""]
    if rows:
        lines += [*md.table(["attribute", "type", "default", "constraints"], rows), ""]
    return [*lines, *example_lines(op)]


def primitives() -> list[Op]:
    """Every primitive once (aliases aside), grouped by family."""
    unique = {op.name: op for op in OPS.values()}
    order = list(Family)
    return sorted(unique.values(), key=lambda op: order.index(op.family))


def spec_reference() -> str:
    """The spec-language reference page, from the pydantic models and the op registry."""
    models = spec_models()
    items = item_models()
    parts = [m for m in models if m not in items and m not in FILES]
    lines = [
        "# Spec language reference", "", md.NOTE.format(source="archspec/spec/schema.py and archspec/ops"), "",
        "Every field of every part of a spec, generated from the pydantic models that validate it, and every "
        "primitive op with its attributes. The [guide](../spec-language.md) explains how the parts fit together "
        "and the [tutorial](../tutorial.md) writes a network from scratch.", "",
        "Unknown keys are errors everywhere, except where a part says otherwise; every error names file, line, "
        "column and field path. Wherever a value is expected, a string starting with `$` is an "
        "[expression](#values).", "",
        "## Files", "",
        "A network is one YAML file ([NetworkSpec](#networkspec)), or a variant of another network of its folder "
        "that sets some of its variables ([VariantSpec](#variantspec)); blocks shared between networks live in block "
        "libraries ([BlockLibrary](#blocklibrary)) that networks `import`; a replacement head for transfer "
        "learning is a file of its own ([HeadSpec](#headspec)).", "",
    ]
    for model in FILES:
        lines += _model_section(model)
    lines += ["## Parts", ""]
    for model in parts:
        lines += _model_section(model)
    choices = ", ".join(f"[{m.__name__}](#{_anchor(m)})" for m in items)
    lines += ["## Items {#items}", "",
              f"An item is a piece of a stem, a head or a block body: one of {choices}, told apart by its key "
              "(`op`, `block`, `seq`, `parallel`, `residual`, `repeat`). A plain YAML list is a `seq`.", ""]
    for model in items:
        lines += _model_section(model)
    lines += [
        "## Values and expressions {#values}", "",
        "A value is a number, a string, a boolean, `null` or a list of values. A string starting with `$` is an "
        "expression, evaluated where it is used: arithmetic (`+ - * / // % **`), comparisons, `and`/`or`/`not`, "
        "`a if condition else b`, lists, indexing a list from the start or, negative, from the end (`widths[0]`, "
        f"`widths[-1]`), one-loop list comprehensions (`[2 * w for w in widths]`, at most {MAX_LIST_VALUES} "
        "steps in one expression), the names in scope (the network's variables, the block's parameters, and in "
        "blocks the names below) and the functions below, nothing else.", "",
        "In a block's parameters and body:", "",
        *md.table(["name", "what it holds"], [[f"`{name}`", doc] for name, doc in BODY_NAMES.items()]),
        "", "Functions (each example's value is computed by the expression language itself):", "",
        *md.table(["function", "what it gives", "example", "gives"],
                  [[f"`{name}`", FUNCTIONS[name].doc, f"`{FUNCTIONS[name].example}`",
                    _example_value(FUNCTIONS[name].example)] for name in sorted(FUNCTIONS)]),
        "", "A variable may itself be an expression of other variables (RegNet's stage widths, derived from its "
        "design-space parameters); each is evaluated once, before the variables that use it, and variables that "
        "refer to each other in a cycle are an error.", "",
    ]
    lines += _primitives_section()
    return "\n".join(lines).rstrip() + "\n"


def _primitives_section() -> list[str]:
    ops = primitives()
    rows = []
    for op in ops:
        names = list(op.Attrs.model_fields)
        attrs = ", ".join(f"[`{n}`](#op-{op.name})" for n in names) if names else ""
        doc = md.docstring((inspect.getdoc(type(op)) or "").splitlines()[0])
        torch_class = getattr(op, "torch_class", None)
        if torch_class:  # the activations share one class and docstring
            doc += f" `torch.nn.{torch_class}`"
        rows.append([f"[`{op.name}`](#op-{op.name})", ", ".join(f"`{a}`" for a in op.aliases), op.family.value,
                     "1" if op.arity == 1 else "2 or more", attrs, doc])
    lines = ["## Primitives {#primitives}", "",
             "The ops of `archspec/ops` (`{op: NAME, ...}`; other keys are the attributes). Shapes exclude the "
             "batch dimension. See [the counting conventions](../conventions.md) for what each family costs.", "",
             *md.table(["op", "aliases", "family", "inputs", "attributes", "what it does"], rows), ""]
    for op in ops:
        lines += _op_section(op)
    return lines
