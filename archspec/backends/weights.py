"""Mapping another implementation's weights onto a compiled network by structure (order and shape)."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Mapping
from typing import cast

import torch
from torch import nn

from archspec.errors import WeightsError


def _key(tensor: torch.Tensor) -> tuple[tuple[int, ...], bool]:
    """Floating-point tensors match by shape; integer ones (index buffers, which implementations keep flat or
    not: Swin's relative-position index is flat, MaxViT's square) by their number of elements."""
    if tensor.is_floating_point():
        return tuple(tensor.shape), True
    return (tensor.numel(),), False


def _local(name: str) -> str:
    """A tensor's name within the module that holds its layer: ``norm1.weight`` of ``features.1.0.norm1.weight``."""
    return ".".join(name.split(".")[-2:])


def _take(candidates: deque[str], name: str) -> str:
    """The reference tensor for ``name``: the next one of its shape, or, where that one's local name differs, a later
    one of the same module scope with ``name``'s local name (a module that registers its layers in another order
    than it runs them: Swin V2 registers each block's norm1 before the attention it follows)."""
    front, local = candidates[0], _local(name)
    if _local(front) != local:
        scope = front.rsplit(".", 2)[0] + "."
        for index, candidate in enumerate(candidates):
            if not candidate.startswith(scope):
                break
            if _local(candidate) == local:
                del candidates[index]
                return candidate
    return candidates.popleft()


def transfer_weights(model: nn.Module, reference: Mapping[str, torch.Tensor] | nn.Module) -> dict[str, str]:
    """Load ``reference`` (a state dict or module) into ``model``; return {model name: reference name}.

    Tensors are matched in order within each shape: the i-th tensor of a given shape in the model takes the
    i-th tensor of that shape in the reference (integer tensors: of that number of elements), except that within
    one module scope of the reference a tensor takes the one with its own local name (``norm1.weight``) where the
    reference registers that scope's layers in another order. Any tensor left over on either side is an error that
    names it.
    The reference must keep its layers' order: a state dict from ``torch.load`` does, one read from a
    safetensors file does not (the format sorts tensors by name), so load that into the reference model first.
    The old order ``transfer_weights(reference, model)`` is deprecated: it is recognised, with a warning, when
    only the second argument is a module compiled by archspec (pass a compiled reference as its state dict).
    """
    if hasattr(reference, "spec_hash") and not hasattr(model, "spec_hash"):
        warnings.warn("transfer_weights(reference, model) is deprecated and will be removed in the next release: "
                      "call transfer_weights(model, reference) (the model first, as in save_weights and "
                      "load_weights)", DeprecationWarning, stacklevel=2)
        model, reference = cast(nn.Module, reference), model
    state = reference.state_dict() if isinstance(reference, nn.Module) else dict(reference)
    floats = [name for name, tensor in state.items() if tensor.is_floating_point()]
    if len(floats) > 1 and floats == sorted(floats):
        # a module's own order puts each layer's "weight" before its "bias": sorted names mean the order was lost
        raise WeightsError("the reference tensors are sorted by name (as a safetensors file stores them), so their "
                           "layer order is lost: load them into the reference model and pass the model instead")
    pool: dict[tuple[tuple[int, ...], bool], deque[str]] = {}
    for name, tensor in state.items():
        pool.setdefault(_key(tensor), deque()).append(name)
    target = model.state_dict()
    mapping: dict[str, str] = {}
    for position, (name, tensor) in enumerate(target.items()):
        candidates = pool.get(_key(tensor))
        if not candidates:
            raise WeightsError(
                f"model tensor #{position} {name!r} {list(tensor.shape)} has no counterpart left in the reference "
                f"({len(mapping)} of {len(target)} matched)"
            )
        mapping[name] = _take(candidates, name)
    leftover = sorted((n for names in pool.values() for n in names), key=list(state).index)
    if leftover:
        first = leftover[0]
        raise WeightsError(f"reference tensor {first!r} {list(state[first].shape)} has no counterpart in the model "
                           f"({len(leftover)} reference tensors unmatched)")
    model.load_state_dict({name: state[source].reshape(target[name].shape) for name, source in mapping.items()})
    return mapping
