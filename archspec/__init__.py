"""archspec: declarative architecture specs for image-classification networks."""

from __future__ import annotations

from typing import Any

from archspec.api import Spec, load
from archspec.errors import ArchspecError, GraphError, SpecError, WeightsError

__all__ = ["ArchspecError", "GraphError", "Spec", "SpecError", "WeightsError", "load", "transfer_weights"]
__version__ = "0.1.0"


def transfer_weights(reference: Any, model: Any) -> dict[str, str]:
    """Load another implementation's state dict (or module) into a compiled model by order and shape."""
    from archspec.backends.weights import transfer_weights as transfer

    return transfer(reference, model)
