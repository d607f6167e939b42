"""Element-wise activations, one Op per function, all from one table."""

from __future__ import annotations

from typing import ClassVar, Literal

from archspec.ops.base import Attrs, Family, Op, Shape

# op name -> torch.nn class name
ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU", "relu6": "ReLU6", "silu": "SiLU", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid",
    "gelu": "GELU", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity",
}
ALIASES = {"swish": "silu"}


class Activation(Op):
    """An element-wise activation (one op per output element)."""

    family = Family.ACTIVATION
    torch_class: ClassVar[str]

    def module(self, a, inputs: list[Shape], output: Shape):
        from torch import nn

        return getattr(nn, self.torch_class)()


ActivationName = Literal["relu", "relu6", "silu", "swish", "hardswish", "hardsigmoid", "gelu", "sigmoid", "tanh",
                         "identity", "leaky_relu"]


class ActivationAttrs(Attrs):
    """The activation function, by name (so a block can take it as a parameter); ``slope`` for leaky_relu."""

    fn: ActivationName
    slope: float = 0.01


class NamedActivation(Op):
    """An element-wise activation chosen by its ``fn`` attribute: ``{op: activation, fn: $act}``."""

    name = "activation"
    family = Family.ACTIVATION
    Attrs = ActivationAttrs

    def module(self, a: ActivationAttrs, inputs: list[Shape], output: Shape):
        from torch import nn

        if a.fn == "leaky_relu":
            return nn.LeakyReLU(a.slope)
        return getattr(nn, ACTIVATIONS[ALIASES.get(a.fn, a.fn)])()

    def label(self, a: ActivationAttrs) -> str:
        return a.fn


class LeakyReLUAttrs(Attrs):
    """Slope for negative inputs."""

    slope: float = 0.01


class LeakyReLU(Op):
    """Leaky ReLU: x for x > 0, slope * x otherwise (YOLO uses 0.1)."""

    name = "leaky_relu"
    family = Family.ACTIVATION
    Attrs = LeakyReLUAttrs

    def module(self, a: LeakyReLUAttrs, inputs: list[Shape], output: Shape):
        from torch import nn

        return nn.LeakyReLU(a.slope)


def activation_ops() -> list[Op]:
    """One Op instance per activation function, aliases included."""
    made = {name: type(f"Act_{name}", (Activation,), {"name": name, "torch_class": cls})()
            for name, cls in ACTIVATIONS.items()}
    aliases = [type(f"Act_{alias}", (Activation,), {"name": alias, "torch_class": ACTIVATIONS[target]})()
               for alias, target in ALIASES.items()]
    return [*made.values(), *aliases, NamedActivation(), LeakyReLU()]
