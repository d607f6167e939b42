"""The spec language as pydantic models: a network is an input, a stem, a table of stages and a head."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

Scalar = int | float | str | bool | None
Pixels = Annotated[int, Field(ge=1, le=16384)]
Value = Scalar | list[Any]


class Strict(BaseModel):
    """Base for every spec model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemBase(Strict):
    """Fields every item of a body may carry."""

    name: str | None = Field(None, description="Name of the item (module name); default: its index.")
    when: bool | str | None = Field(None, description="Condition (an expression); when false the item is an identity.")


class OpItem(ItemBase):
    """A primitive operation, e.g. ``{op: conv, out: 64, kernel: 3}``; other keys are the op's attributes."""

    model_config = ConfigDict(extra="allow", frozen=True)
    op: str

    @property
    def attrs(self) -> dict[str, Any]:
        """The op's attributes as written (expressions unevaluated)."""
        return dict(self.model_extra or {})


class BlockItem(ItemBase):
    """An instance of a named block, e.g. ``{block: bottleneck, c: 256}``; other keys are its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True)
    block: str

    @property
    def args(self) -> dict[str, Any]:
        """The block arguments as written."""
        return dict(self.model_extra or {})


class SeqItem(ItemBase):
    """Items applied one after another (a plain YAML list is the same thing)."""

    seq: list[Item]


class ParallelItem(ItemBase):
    """Branches applied to the same input and merged; an empty branch is the identity."""

    parallel: list[Item] = Field(min_length=1)
    merge: Literal["add", "concat", "mul"]


class ResidualItem(ItemBase):
    """``residual`` body added to a ``shortcut`` (the identity unless given)."""

    residual: Item
    shortcut: Item | None = None
    connect: bool | str = Field(True, description="Whether the skip connection exists; when false only the body.")


class RepeatItem(ItemBase):
    """``body`` applied ``repeat`` times in sequence; with a ``name``, repetition i is named ``name.i``."""

    repeat: Annotated[int, Field(ge=1, le=10_000)] | str
    body: Item


def _list_as_seq(value: Any) -> Any:
    return {"seq": value} if isinstance(value, list) else value


def _item_kind(value: Any) -> str | None:
    for model, tag in _TAGS.items():
        if isinstance(value, model):
            return tag
    if isinstance(value, dict):
        for key in ("op", "block", "seq", "parallel", "residual", "repeat"):
            if key in value:
                return key
    return None


_TAGS: dict[type[BaseModel], str] = {}

Item = Annotated[
    Annotated[OpItem, Tag("op")]
    | Annotated[BlockItem, Tag("block")]
    | Annotated[SeqItem, Tag("seq")]
    | Annotated[ParallelItem, Tag("parallel")]
    | Annotated[ResidualItem, Tag("residual")]
    | Annotated[RepeatItem, Tag("repeat")],
    Discriminator(
        _item_kind,
        custom_error_type="item_kind",
        custom_error_message="an item needs one of the keys op, block, seq, parallel, residual, repeat (or is a list)",
    ),
    BeforeValidator(_list_as_seq),
]


_TAGS.update({OpItem: "op", BlockItem: "block", SeqItem: "seq", ParallelItem: "parallel", ResidualItem: "residual",
              RepeatItem: "repeat"})


class BlockDef(Strict):
    """A reusable block: named parameters (``null`` means required) and a body built from items."""

    doc: str = Field(description="One line saying what the block is.")
    params: dict[str, Value] = Field(default_factory=dict)
    channel_params: list[str] = Field(default_factory=list,
                                      description="Parameters that are channel counts (width scaling multiplies them).")
    depth_params: list[str] = Field(default_factory=list,
                                    description="Parameters that are layer counts: depth scaling multiplies them "
                                                "instead of the row's repeats (VGG's convs per stage).")
    body: Item


class BlockLibrary(Strict):
    """A YAML file of shared blocks."""

    blocks: dict[str, BlockDef]


class HeadSpec(Strict):
    """A replacement head for transfer learning: a spec's ``head`` list on its own (empty: a feature extractor)."""

    head: list[Item]


class Paper(Strict):
    """Where the architecture was published."""

    title: str
    authors: str | None = None
    year: int = Field(ge=1980, le=2100)
    table: str | None = Field(None, description="The table or figure the spec mirrors.")
    url: str | None = None


class Reported(Strict):
    """Published figures and their source: ImageNet accuracy, and the paper's own params and MACs if given."""

    top1: float | None = Field(None, ge=0, le=100)
    top5: float | None = Field(None, ge=0, le=100)
    source: str
    params: int | None = Field(None, ge=1, description="Parameters as the paper reports them.")
    macs: int | None = Field(None, ge=1, description="Multiply-adds as the paper reports them.")
    tolerance: float = Field(0.0, ge=0, le=1, description="Relative gap allowed against the paper's rounded figures.")
    convention: str | None = Field(None, description="How the paper counts, and why figures may differ.")


class Reference(Strict):
    """An independent implementation the spec is checked against (torchvision or timm)."""

    torchvision: str | None = None
    timm: str | None = None
    kwargs: dict[str, Value] = Field(default_factory=dict, description="Constructor arguments of the reference.")
    output: int = Field(0, ge=0, description="Which output of the reference to compare when it returns several.")
    weights: str | None = Field(None, description="torchvision weights whose figures apply (default: DEFAULT).")


class InputSpec(Strict):
    """The network's input: channels and square or (height, width) resolution."""

    channels: int = Field(3, ge=1, le=4096)
    resolution: Pixels | tuple[Pixels, Pixels] = 224


class StageRow(BaseModel):
    """One row of the paper's table: a block (or primitive) repeated ``n`` times; other keys are its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    name: str | None = None
    block: str = Field(validation_alias=AliasChoices("block", "op", "operator"))
    n: Annotated[int, Field(ge=1, le=10_000)] | str = Field(
        1, validation_alias=AliasChoices("n", "repeats", "layers"), description="Repeats (or an expression).")
    stride: Annotated[int, Field(ge=1)] | str | None = Field(None, validation_alias=AliasChoices("stride", "s"),
                                     description="Stride of the first repeat; later repeats use 1.")
    resolution: int | None = Field(None, ge=1, description="Expected input resolution (checked).")
    fixed: bool = Field(False, description="Scaling leaves this row alone.")
    side: bool = Field(False, description="A side output (auxiliary head): the main path continues from its input.")
    when: bool | str | None = None

    @property
    def args(self) -> dict[str, Any]:
        """The block arguments written in the row."""
        return dict(self.model_extra or {})


class Scaling(Strict):
    """How the network scales: compound coefficients and rounding (EfficientNet, Sec. 3.3)."""

    alpha: float = Field(1.2, gt=0, description="Depth coefficient: repeats grow by alpha^phi.")
    beta: float = Field(1.1, gt=0, description="Width coefficient: channels grow by beta^phi.")
    gamma: float = Field(1.15, gt=0, description="Resolution coefficient: resolution grows by gamma^phi.")
    divisor: int = Field(8, ge=1, description="Scaled channels are rounded to a multiple of this.")
    resolution_divisor: int = Field(1, ge=1, description="Scaled resolutions are rounded to a multiple of this.")
    channel_variables: list[str] = Field(default_factory=list,
                                         description="Variables that are channel counts (e.g. a transformer's width).")
    depth_variables: list[str] = Field(default_factory=list,
                                       description="Variables that are repeat counts (e.g. a transformer's layers).")
    width_multipliers: list[str] = Field(default_factory=list,
                                         description="Variables that are width multipliers themselves "
                                                     "(MobileNet's alpha): multiplied by the width factor.")


class NetworkSpec(Strict):
    """A whole network: input, stem, stages (the paper's table) and head, plus the blocks they use."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = None
    paper: Paper | None = None
    reported: Reported | None = None
    reference: Reference | None = None
    notes: str | None = None
    input: InputSpec = Field(default_factory=InputSpec)
    variables: dict[str, Value] = Field(default_factory=dict,
                                        description="Network-wide settings; they also configure blocks by name.")
    scaling: Scaling | None = None
    imports: list[str] = Field(default_factory=list, description="Block library files, relative to this file.")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    stem: list[Item] = Field(default_factory=list)
    stages: list[StageRow] = Field(default_factory=list)
    head: list[Item] = Field(default_factory=list)
