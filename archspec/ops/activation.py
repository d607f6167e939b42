"""Element-wise activations, one Op per function, all from one table."""

from __future__ import annotations

from typing import ClassVar

from archspec.ops.base import Family, Op, Shape

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


def activation_ops() -> list[Op]:
    """One Op instance per activation function, aliases included."""
    made = {name: type(f"Act_{name}", (Activation,), {"name": name, "torch_class": cls})()
            for name, cls in ACTIVATIONS.items()}
    aliases = [type(f"Act_{alias}", (Activation,), {"name": alias, "torch_class": ACTIVATIONS[target]})()
               for alias, target in ALIASES.items()]
    return [*made.values(), *aliases]
