"""Transfer learning on a compiled network: freeze leading stages; optimizer groups with layer-wise learning rates.

A compiled network records which of its children make each stage of the spec (``stage_modules``: the stem and
each row one child, the head its items, as ``avgpool`` and ``fc``), so both helpers work without the spec; on any
other module each top-level child is a stage.
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


def stages_of(model: nn.Module) -> dict[str, list[nn.Module]]:
    """The stages of a compiled network and the children that make each, in network order."""
    children = dict(model.named_children())
    recorded = getattr(model, "stage_modules", None)
    if not isinstance(recorded, dict):
        return {name: [child] for name, child in children.items()}
    return {stage: [children[name] for name in names if name in children] for stage, names in recorded.items()}


def freeze(model: nn.Module, stages: list[str]) -> nn.Module:
    """Freeze the named stages of a compiled module in place: no gradients, BatchNorm in eval mode for good."""
    parts = stages_of(model)
    for stage in stages:
        for part in parts.get(stage, []):  # a stage without modules (only functions) has nothing to freeze
            _freeze(part)
    return model


def _freeze(part: nn.Module) -> None:
    part.requires_grad_(False)
    for module in part.modules():
        frozen = _FROZEN.get(type(module))
        if frozen is not None:
            # swapping the class (same layout, importable, picklable) costs nothing per forward, unlike a hook
            module.__class__ = frozen
            module.eval()


def param_groups(model: nn.Module, lr: float, decay: float = 1.0,
                 weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Optimizer parameter groups per stage with layer-wise learning rates ``lr * decay ** k``, ``k`` counting
    stages back from the head (0); weight decay only on tensors of two or more dimensions (not on biases and
    norm scales); frozen parameters left out. Pass the result to any ``torch.optim`` optimizer."""
    if not lr > 0 or not decay > 0 or weight_decay < 0:
        raise ValueError(f"need lr > 0, decay > 0 and weight_decay >= 0, got {lr}, {decay}, {weight_decay}")
    stages = [(name, [p for part in parts for p in part.parameters()]) for name, parts in stages_of(model).items()]
    stages = [(name, params) for name, params in stages if params]
    groups: list[dict[str, Any]] = []
    for index, (name, stage_params) in enumerate(stages):
        stage_lr = lr * decay ** (len(stages) - 1 - index)
        trainable = [p for p in stage_params if p.requires_grad]
        for params, stage_decay in (([p for p in trainable if p.ndim > 1], weight_decay),
                                    ([p for p in trainable if p.ndim <= 1], 0.0)):
            if params:
                groups.append({"name": name, "params": params, "lr": stage_lr, "weight_decay": stage_decay})
    return groups
