"""Transfer learning on a compiled network: freeze leading stages; optimizer groups with layer-wise learning rates.

A compiled module's top-level children are its stages in network order (``stem``, the table's rows, ``head``),
so both helpers work on any compiled module without the spec.
"""

from __future__ import annotations

from typing import Any, Self

from torch import nn


class _AlwaysEval(nn.Module):
    """Mixin: ``train()`` leaves the module in eval mode, so frozen BatchNorm keeps its running statistics."""

    def train(self, mode: bool = True) -> Self:
        """Switch to eval mode, whatever ``mode`` asks."""
        return super().train(False)


class FrozenBatchNorm1d(_AlwaysEval, nn.BatchNorm1d):
    """A BatchNorm1d of a frozen stage: always normalises with its running statistics."""


class FrozenBatchNorm2d(_AlwaysEval, nn.BatchNorm2d):
    """A BatchNorm2d of a frozen stage: always normalises with its running statistics."""


_FROZEN: dict[type[nn.Module], type[nn.Module]] = {nn.BatchNorm1d: FrozenBatchNorm1d, nn.BatchNorm2d: FrozenBatchNorm2d}


def freeze(model: nn.Module, stages: list[str]) -> nn.Module:
    """Freeze the named stages of a compiled module in place: no gradients, BatchNorm in eval mode for good."""
    parts = dict(model.named_children())
    for stage in stages:
        part = parts.get(stage)
        if part is None:  # a stage without modules (only functions) has nothing to freeze
            continue
        part.requires_grad_(False)
        for module in part.modules():
            frozen = _FROZEN.get(type(module))
            if frozen is not None:
                # swapping the class (same layout, importable, picklable) costs nothing per forward, unlike a hook
                module.__class__ = frozen
                module.eval()
    return model


def param_groups(model: nn.Module, lr: float, decay: float = 1.0,
                 weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Optimizer parameter groups per stage with layer-wise learning rates ``lr * decay ** k``, ``k`` counting
    stages back from the head (0); weight decay only on tensors of two or more dimensions (not on biases and
    norm scales); frozen parameters left out. Pass the result to any ``torch.optim`` optimizer."""
    if not lr > 0 or not decay > 0 or weight_decay < 0:
        raise ValueError(f"need lr > 0, decay > 0 and weight_decay >= 0, got {lr}, {decay}, {weight_decay}")
    stages = [(name, part) for name, part in model.named_children() if next(part.parameters(), None) is not None]
    groups: list[dict[str, Any]] = []
    for index, (name, part) in enumerate(stages):
        stage_lr = lr * decay ** (len(stages) - 1 - index)
        trainable = [p for p in part.parameters() if p.requires_grad]
        for params, stage_decay in (([p for p in trainable if p.ndim > 1], weight_decay),
                                    ([p for p in trainable if p.ndim <= 1], 0.0)):
            if params:
                groups.append({"name": name, "params": params, "lr": stage_lr, "weight_decay": stage_decay})
    return groups
