"""archspec: declarative architecture specs for image-classification networks."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from archspec.api import Spec, create_model, load, summary
from archspec.errors import ArchspecError, GraphError, SpecError, WeightsError
from archspec.library import list_models

if TYPE_CHECKING:
    from archspec.backends.checkpoint import load_weights, save_weights
    from archspec.backends.finetune import param_groups
    from archspec.backends.weights import transfer_weights

__all__ = ["ArchspecError", "GraphError", "Spec", "SpecError", "WeightsError", "create_model", "list_models", "load",
           "load_weights", "param_groups", "save_weights", "summary", "transfer_weights"]
__version__ = "0.1.0"

# functions that need torch, imported on first use so that ``import archspec`` stays light
_LAZY = {"transfer_weights": "archspec.backends.weights", "param_groups": "archspec.backends.finetune",
         "save_weights": "archspec.backends.checkpoint", "load_weights": "archspec.backends.checkpoint"}


def __getattr__(name: str) -> Any:
    """``archspec.transfer_weights`` and the other torch helpers, imported when first used."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (the torch helpers too, before their first use), for ``dir`` and tab completion."""
    return sorted({*__all__, "__version__"})
