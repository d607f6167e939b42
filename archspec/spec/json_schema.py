"""JSON Schemas of the spec language, generated from the pydantic models, so YAML editors validate and complete.

pydantic's own schema misses two things the loader accepts: a plain list wherever an item goes (a ``seq``) and the
alias spellings of stage-row fields (``op:`` for ``block:``, ``s:`` for ``stride:``); both are added here, and the
primitive ops are listed so that editors complete them.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices, BaseModel, TypeAdapter

from archspec.ops import OPS
from archspec.spec.schema import BlockLibrary, Item, NetworkSpec, StageRow, VariantSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ITEM_REF = {"$ref": "#/$defs/Item"}


def network_schema() -> dict[str, Any]:
    """The JSON Schema of a network spec file."""
    return _complete(NetworkSpec, "archspec network spec")


def blocks_schema() -> dict[str, Any]:
    """The JSON Schema of a block library file (``specs/blocks/*.yaml``)."""
    return _complete(BlockLibrary, "archspec block library")


def variant_schema() -> dict[str, Any]:
    """The JSON Schema of a variant file (a spec that ``extends`` another)."""
    return {"$schema": DIALECT, **VariantSpec.model_json_schema(), "title": "archspec network variant"}


def schema_text(kind: str = "network") -> str:
    """A schema as the text written to ``specs/schema.json`` (``blocks``: ``specs/blocks.schema.json``,
    ``variant``: ``specs/variant.schema.json``)."""
    schemas = {"network": network_schema, "blocks": blocks_schema, "variant": variant_schema}
    return json.dumps(schemas[kind](), indent=2) + "\n"


def _complete(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    union = TypeAdapter(Item).json_schema()["oneOf"]
    defs = _share_items(schema.pop("$defs"), union)
    defs["Item"] = {"oneOf": [*union, {"type": "array", "items": ITEM_REF, "description": "Items in sequence."}]}
    defs["OpItem"]["properties"]["op"]["enum"] = sorted(OPS)
    if "StageRow" in defs:
        _add_aliases(defs["StageRow"], StageRow)
    return {"$schema": DIALECT, **_share_items(schema, union), "title": title, "$defs": dict(sorted(defs.items()))}


def _share_items(node: Any, union: list[Any]) -> Any:
    """Replace every inline copy of the item union by a reference to the shared ``Item`` definition, keeping a
    field's own keys (its title and description)."""
    if isinstance(node, dict):
        if node.get("oneOf") == union:
            return {**ITEM_REF, **{key: value for key, value in node.items() if key != "oneOf"}}
        return {key: _share_items(value, union) for key, value in node.items()}
    if isinstance(node, list):
        return [_share_items(value, union) for value in node]
    return node


def _add_aliases(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Accept every spelling of a field the model accepts; a required field needs one of them."""
    properties, required = schema["properties"], schema.get("required", [])
    for field in model.model_fields.values():
        if not isinstance(field.validation_alias, AliasChoices):
            continue
        first, *others = field.validation_alias.choices
        for alias in others:
            properties[alias] = properties[first]
        if first in required:
            required.remove(first)
            schema.setdefault("allOf", []).append({"anyOf": [{"required": [name]} for name in (first, *others)]})
    if not required:
        schema.pop("required", None)
