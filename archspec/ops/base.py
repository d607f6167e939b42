"""What a primitive is: attributes, and side by side its shape, cost, receptive-field and torch rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]
# the largest size or count an attribute may give: far beyond any network, and small enough that every figure
# derived from a few of them (params, MACs, receptive fields) stays a machine-sized integer
MAX_SIZE = 2**24


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1: ``out: true`` would build a 1-channel conv
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, got {value!r}")
    return value


def bounded_int(low: int = -MAX_SIZE, high: int = MAX_SIZE) -> Any:
    """An integer type between ``low`` and ``high`` that refuses booleans."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_not_bool)]


if TYPE_CHECKING:  # plain integers to the type checker; the bounds are pydantic's to check
    Int = int
    PositiveInt = int
    NonNegativeInt = int
else:
    Int = bounded_int()
    PositiveInt = bounded_int(1)
    NonNegativeInt = bounded_int(0)
Size2 = PositiveInt | tuple[PositiveInt, PositiveInt]


class Family(str, Enum):
    """Op families, used for colours, summaries and cost conventions."""

    CONV = "conv"
    LINEAR = "linear"
    NORM = "norm"
    ACTIVATION = "activation"
    POOL = "pool"
    ATTENTION = "attention"
    TOKEN = "token"
    TENSOR = "tensor"
    REGULARIZATION = "regularization"


class OpAttrs(BaseModel):
    """Base for op attributes: unknown attributes are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoAttrs(OpAttrs):
    """An op without attributes."""


A = TypeVar("A", bound=OpAttrs)
# what a stateless op computes: a function of the input tensors, and its keyword arguments
FunctionCall = tuple[Callable[..., Any], dict[str, Any]]
# how an op's module is called on its input values: positional and keyword arguments, and which element of a tuple
# result is the output (None: the result itself)
ModuleCall = tuple[tuple[Any, ...], dict[str, Any], int | None]


class Layout(Enum):
    """Which memory layout an op's module takes a (C, H, W) map in; the IR's shapes are always channels-first."""

    FIRST = "channels_first"  # (N, C, H, W), as convolutions and pools take it
    LAST = "channels_last"    # (N, H, W, C), as nn.Linear and nn.LayerNorm take the channels
    EITHER = "either"         # element-wise: computed in the layout its input comes in


class Cost(NamedTuple):
    """Parameters, buffers and arithmetic of one node.

    ``macs`` counts multiply-accumulates of conv, linear and matmul work (the headline convention);
    ``other_ops`` counts the cheap ops (norms, activations, pooling, element-wise) at one op per element touched.
    """

    params: int = 0
    buffers: int = 0
    macs: int = 0
    other_ops: int = 0


class Window(Enum):
    """How an op relates output positions to input positions, for receptive-field analysis."""

    IDENTITY = "identity"   # position-wise (element-wise, 1x1, norms, token-wise ops)
    SLIDING = "sliding"     # a sliding window: kernel, stride, padding, dilation
    GLOBAL = "global"       # every output sees the whole input (global pool, attention, linear on vectors)
    PARTITION = "partition"  # blocks of kernel positions from offset (and before it) each see their block


@dataclass(frozen=True)
class WindowRule:
    """The receptive-field transfer of one op along each spatial axis (``offset``: where a partition's first whole
    block starts; the positions before it form a block of their own)."""

    kind: Window
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    offset: tuple[int, int] = (0, 0)


IDENTITY = WindowRule(Window.IDENTITY)
GLOBAL = WindowRule(Window.GLOBAL)


class ShapeError(ValueError):
    """An op cannot accept its input shapes; the IR builder adds the node and location."""


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; pairs pass through."""
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def numel(shape: Shape) -> int:
    """Number of elements in a (batch-free) shape."""
    return math.prod(shape)


class Op(Generic[A]):
    """A primitive: subclasses of ``Op[TheirAttrs]`` set ``name``, ``family``, ``Attrs`` and implement the rules."""

    name: ClassVar[str]
    family: ClassVar[Family]
    Attrs: ClassVar[type[OpAttrs]] = NoAttrs  # the class of A (a ClassVar cannot name a type variable)
    arity: ClassVar[int | None] = 1  # None: two or more inputs
    aliases: ClassVar[tuple[str, ...]] = ()
    global_context: ClassVar[bool] = False  # output depends on the whole input besides its local window
    channel_attrs: ClassVar[tuple[str, ...]] = ()  # attributes that are channel counts (width scaling)
    elementwise: ClassVar[bool] = False  # each output element depends on the same element of each input only

    def infer(self, attrs: A, inputs: list[Shape]) -> Shape:
        """The output shape (batch excluded) for the given input shapes."""
        return inputs[0]

    def cost(self, attrs: A, inputs: list[Shape], output: Shape) -> Cost:
        """Parameters, buffers and arithmetic; default: one cheap op per output element."""
        return Cost(other_ops=numel(output))

    def window(self, attrs: A, inputs: list[Shape]) -> WindowRule:
        """Receptive-field rule; default: position-wise."""
        return IDENTITY

    def module(self, attrs: A, inputs: list[Shape], output: Shape) -> nn.Module | None:
        """A torch module computing the op, or None when ``function`` is used instead."""
        return None

    def parameter(self, attrs: A, inputs: list[Shape]) -> nn.Parameter | None:
        """A parameter the enclosing module holds at the node's name and passes to ``function`` after the inputs,
        or None (the op has no such parameter)."""
        return None

    def layout(self, attrs: A, inputs: list[Shape]) -> Layout:
        """The layout ``module`` takes and returns a (C, H, W) map in; default: either for an element-wise op,
        else channels-first."""
        return Layout.EITHER if self.elementwise else Layout.FIRST

    def first_module(self, attrs: A, inputs: list[Shape], output: Shape) -> nn.Module | None:
        """For a channels-last op, a module with the same tensors taking and returning channels-first maps (as
        torchvision's LayerNorm2d), used between channels-first ops; None: the compiler permutes around ``module``."""
        return None

    def call(self, inputs: tuple[Any, ...]) -> ModuleCall:
        """How ``module``'s result is called on the input values; default: on them, its result the output."""
        return inputs, {}, None

    def function(self, attrs: A, inputs: list[Shape]) -> FunctionCall:
        """A module-level function of the input tensors and its keyword arguments, for stateless ops."""
        raise NotImplementedError(self.name)

    def label(self, attrs: A) -> str:
        """A short human label (``conv 3x3/2``) for summaries and diagrams."""
        return self.name


def require_rank(name: str, inputs: list[Shape], ranks: tuple[int, ...], what: str) -> None:
    """Raise ShapeError unless every input has one of the given ranks."""
    for shape in inputs:
        if len(shape) not in ranks:
            raise ShapeError(f"{name} expects {what}, got input shape {list(shape)}")
