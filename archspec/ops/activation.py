"""Element-wise activations, one Op per function, all from one table."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from archspec.ops.base import Family, FunctionCall, NoAttrs, Op, OpAttrs, Shape

if TYPE_CHECKING:
    from torch import Tensor, nn

# The one list of activation functions: op name -> torch.nn class name. Each is an op of its own
# (``{op: relu}``), a choice of ``{op: activation, fn: ...}`` and of squeeze-excitation's functions.
ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU", "relu6": "ReLU6", "silu": "SiLU", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid",
    "gelu": "GELU", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity",
}
ACTIVATION_ALIASES = {"swish": "silu"}
LEAKY_SLOPE = 0.01  # torch's default negative slope


def identity(x: Tensor) -> Tensor:
    """Its input."""
    return x


def activation_function(name: str, slope: float = LEAKY_SLOPE) -> FunctionCall:
    """The function computing the activation ``name`` (``F.relu``), and its keyword arguments."""
    import torch
    import torch.nn.functional as F

    name = ACTIVATION_ALIASES.get(name, name)
    if name == "leaky_relu":
        return F.leaky_relu, {"negative_slope": slope}
    if name == "identity":
        return identity, {}
    return getattr(torch, name) if name in ("sigmoid", "tanh") else getattr(F, name), {}


def activation_module(name: str, slope: float = LEAKY_SLOPE) -> nn.Module:
    """The torch module of the activation function ``name`` (an alias or ``leaky_relu`` included)."""
    from torch import nn

    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    return getattr(nn, ACTIVATIONS[ACTIVATION_ALIASES.get(name, name)])()


class Activation(Op[NoAttrs]):
    """An element-wise activation (one op per output element)."""

    family = Family.ACTIVATION
    elementwise = True
    torch_class: ClassVar[str]

    def module(self, a: NoAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        return activation_module(self.name)

    def function(self, a: NoAttrs, inputs: list[Shape]) -> FunctionCall:
        return activation_function(self.name)


if TYPE_CHECKING:
    ActivationName = str
else:  # the choices, from the table above
    ActivationName = Literal[(*ACTIVATIONS, *ACTIVATION_ALIASES, "leaky_relu")]


class ActivationAttrs(OpAttrs):
    """The activation function, by name (so a block can take it as a parameter); ``slope`` for leaky_relu."""

    fn: ActivationName
    slope: float = LEAKY_SLOPE


class NamedActivation(Op[ActivationAttrs]):
    """An element-wise activation chosen by its ``fn`` attribute: ``{op: activation, fn: $act}``."""

    name = "activation"
    family = Family.ACTIVATION
    elementwise = True
    Attrs = ActivationAttrs

    def module(self, a: ActivationAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        return activation_module(a.fn, a.slope)

    def function(self, a: ActivationAttrs, inputs: list[Shape]) -> FunctionCall:
        return activation_function(a.fn, a.slope)

    def label(self, a: ActivationAttrs) -> str:
        return a.fn


class LeakyReLUAttrs(OpAttrs):
    """Slope for negative inputs."""

    slope: float = LEAKY_SLOPE


class LeakyReLU(Op[LeakyReLUAttrs]):
    """Leaky ReLU: x for x > 0, slope * x otherwise (YOLO uses 0.1)."""

    name = "leaky_relu"
    family = Family.ACTIVATION
    elementwise = True
    Attrs = LeakyReLUAttrs

    def module(self, a: LeakyReLUAttrs, inputs: list[Shape], output: Shape) -> nn.Module:
        return activation_module(self.name, a.slope)

    def function(self, a: LeakyReLUAttrs, inputs: list[Shape]) -> FunctionCall:
        return activation_function(self.name, a.slope)


def activation_ops() -> list[Op]:
    """One Op instance per activation function, aliases included."""
    named = [type(f"Act_{name}", (Activation,), {"name": name, "torch_class": ACTIVATIONS[target]})()
             for name, target in (*((n, n) for n in ACTIVATIONS), *ACTIVATION_ALIASES.items())]
    return [*named, NamedActivation(), LeakyReLU()]
