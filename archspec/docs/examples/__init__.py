"""The spec reference's examples: one file per spec model, ``<Model>.yaml``, written as it appears in a spec."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

FOLDER = Path(__file__).resolve().parent
# the examples of models that are a field's value, written under that key (the others are the whole document)
KEYS = {"Paper": "paper", "Reported": "reported", "Reference": "reference", "InputSpec": "input",
        "Scaling": "scaling", "StageRow": "row", "BlockDef": "basic", "ScaledVariant": "b3",
        "ScaledFrom": "scaled_from"}


def example(model: type[BaseModel]) -> tuple[str | None, str]:
    """The model's example: the key it is written under (None: the whole document) and its text."""
    path = FOLDER / f"{model.__name__}.yaml"
    if not path.is_file():
        raise KeyError(f"the spec model {model.__name__} has no example: add {path.name} to archspec/docs/examples")
    return KEYS.get(model.__name__), path.read_text()
