"""The independent implementation a spec names (torchvision or timm), built for side-by-side checks.

torchvision and timm are references for tests and benchmarks, not dependencies: they are imported on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import GraphError

if TYPE_CHECKING:
    from torch import nn

    from archspec.api import Spec


def takes_resolution(spec: Spec) -> bool:
    """Whether the network's parameters depend on its input resolution (a ViT's position embedding), so that its
    reference must be told the resolution; a reference built for the wrong one fails on the input."""
    other = spec.with_overrides(image_size=2 * spec.analyze().input_shape[1])
    try:
        return other.analyze().params != spec.analyze().params
    except GraphError:
        return False


def reference_model(spec: Spec) -> nn.Module:
    """The torchvision or timm twin of a spec, randomly initialised, in eval mode, at the spec's resolution."""
    reference = spec.network.reference
    if reference is None:
        raise ValueError(f"{spec.name} names no reference implementation")
    kwargs: dict[str, Any] = dict(reference.kwargs)  # the library's own keywords, whatever their types
    if takes_resolution(spec):  # torchvision's keyword, and timm's
        kwargs["image_size" if reference.torchvision else "img_size"] = spec.analyze().input_shape[1]
    if reference.torchvision:
        import torchvision

        return torchvision.models.get_model(reference.torchvision, weights=None, **kwargs).eval()
    if reference.timm is None:
        raise ValueError(f"{spec.name}'s reference names neither a torchvision nor a timm model")
    import timm

    return timm.create_model(reference.timm, pretrained=False, **kwargs).eval()
