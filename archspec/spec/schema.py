"""The spec language as pydantic models: a network is an input, a stem, a table of stages and a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from archspec.errors import FieldPath
from archspec.ops.base import bounded_int
from archspec.spec.expr import MAX_INT
from archspec.spec.names import check_name
from archspec.spec.source import Source

# the other spellings of a table row's fields, as papers head their columns
ROW_ALIASES: dict[str, tuple[str, ...]] = {"stride": ("s",), "n": ("repeats", "layers"), "block": ("op", "operator")}

Scalar = int | float | str | bool | None
if TYPE_CHECKING:  # plain integers to the type checker; the bounds are pydantic's to check
    Pixels = int
    Repeats = int
    Figure = int
    Small = int
    Index = int
    Channels = int
    Year = int
else:
    Pixels = bounded_int(1, 16384)
    Repeats = bounded_int(1, 10_000)
    Figure = bounded_int(1, MAX_INT)
    Small = bounded_int(1, 1024)
    Index = bounded_int(0, 1024)
    Channels = bounded_int(1, 4096)
    Year = bounded_int(1980, 2100)
Value = Scalar | list[Any]
Name = Annotated[str, AfterValidator(check_name)]


class Strict(BaseModel):
    """Base for every spec model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ItemBase(Strict):
    """Fields every item of a body may carry."""

    name: Name | None = Field(None, description="Name of the item (module name); default: its index.")
    when: bool | str | None = Field(None, description="Condition (an expression); when false the item is an identity.")


class OpItem(ItemBase):
    """A primitive operation, e.g. ``{op: conv, out: 64, kernel: 3}``; other keys are the op's attributes."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    op: str = Field(description="Name of the primitive op (conv, batchnorm, relu, ...).")
    functional: bool = Field(False, description="Compute the op in the enclosing module's forward as a function "
                                                "call (F.relu, F.adaptive_avg_pool2d), as a hand-written network "
                                                "may, instead of as a child module; for activations and pooling.")

    @property
    def attrs(self) -> dict[str, Any]:
        """The op's attributes as written (expressions unevaluated)."""
        return dict(self.model_extra or {})


class BlockItem(ItemBase):
    """An instance of a named block, e.g. ``{block: bottleneck, c: 256}``; other keys are its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    block: str = Field(description="Name of a block the spec can see (imported or its own); an op's name also works.")

    @property
    def args(self) -> dict[str, Any]:
        """The block arguments as written."""
        return dict(self.model_extra or {})


class SeqItem(ItemBase):
    """Items applied one after another (a plain YAML list is the same thing)."""

    seq: list[Item] = Field(description="Items applied in order, each to the previous one's output.")


class ParallelItem(ItemBase):
    """Branches applied to the same input and merged; an empty branch is the identity."""

    parallel: list[Item] = Field(min_length=1, description="Branches, each applied to the item's input.")
    merge: Literal["add", "concat", "mul"] = Field(
        description="How the branch outputs are merged: add (element-wise sum), concat (along channels) or mul "
                    "(element-wise product).")


class ResidualItem(ItemBase):
    """``residual`` body added to a ``shortcut`` (the identity unless given)."""

    residual: Item = Field(description="The body, whose output is added to the shortcut's.")
    shortcut: Item | None = Field(None, description="The skip path (e.g. a projection); default: the identity.")
    connect: bool | str = Field(True, description="Whether the skip connection exists; when false only the body.")


class RepeatItem(ItemBase):
    """``body`` applied ``repeat`` times in sequence; with a ``name``, repetition i is named ``name.i``."""

    repeat: Repeats | str = Field(
        description="How many copies of body run in sequence: an integer, or an expression (which may give 0).")
    body: Item = Field(description="The item repeated; each copy sees its number (from 0) as index.")


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
    params: dict[str, Value] = Field(default_factory=dict,
                                     description="Parameters and their defaults (null: required); a default may be "
                                                 "an expression using earlier parameters.")
    channel_params: list[str] = Field(default_factory=list,
                                      description="Parameters that are channel counts (width scaling multiplies them).")
    depth_params: list[str] = Field(default_factory=list,
                                    description="Parameters that are layer counts: depth scaling multiplies them "
                                                "instead of the row's repeats (VGG's convs per stage).")
    body: Item = Field(description="What the block computes, in terms of its parameters (a list is a sequence).")


@dataclass(frozen=True)
class BlockRef:
    """A block definition together with the file and field path it was written at."""

    name: str
    definition: BlockDef
    source: Source
    path: FieldPath


class BlockLibrary(Strict):
    """A YAML file of shared blocks."""

    blocks: dict[str, BlockDef] = Field(description="Blocks by name; a network that imports the file can use them all.")


class HeadSpec(Strict):
    """A replacement head for transfer learning: a spec's ``head`` list on its own (empty: a feature extractor)."""

    head: list[Item] = Field(description="Items replacing the spec's head, applied to the last stage's output.")


class Paper(Strict):
    """Where the architecture was published."""

    title: str = Field(description="Title of the paper.")
    authors: str | None = Field(None, description="Authors, as one string.")
    year: Year = Field(description="Year of publication.")
    table: str | None = Field(None, description="The table or figure the spec mirrors.")
    url: str | None = Field(None, description="Link to the paper (e.g. its arXiv page).")


class Reported(Strict):
    """Published figures and their source: accuracy (with its dataset and resolution), and the paper's own params
    and MACs if given."""

    top1: float | None = Field(None, ge=0, le=100, description="Published top-1 accuracy, in percent.")
    top5: float | None = Field(None, ge=0, le=100, description="Published top-5 accuracy, in percent.")
    source: str = Field(description="Where the figures come from (a table of the paper, or the weights).")
    dataset: str = Field("ImageNet-1k", min_length=1, max_length=100,
                         description="The dataset whose test (or validation) set the accuracies are on.")
    resolution: Pixels | tuple[Pixels, Pixels] | None = Field(
        None, description="The input size the accuracies were measured at; default: the spec's input resolution.")
    params: Figure | None = Field(None, description="Parameters as the paper reports them.")
    macs: Figure | None = Field(None, description="Multiply-adds as the paper reports them.")
    tolerance: float = Field(0.0, ge=0, le=1, description="Relative gap allowed against the paper's rounded figures.")
    convention: str | None = Field(None, description="How the paper counts, and why figures may differ.")


class Reference(Strict):
    """An independent implementation the spec is checked against (torchvision or timm)."""

    torchvision: str | None = Field(None, description="Name of the torchvision model, as get_model takes it.")
    timm: str | None = Field(None, description="Name of the timm model, as create_model takes it (when torchvision "
                                               "has none).")
    kwargs: dict[str, Value] = Field(default_factory=dict, description="Constructor arguments of the reference.")
    output: Index = Field(0, description="Which output of the reference to compare when it returns several.")
    weights: str | None = Field(None, description="torchvision weights whose figures apply (default: each of "
                                                "the model's weights, at its own crop).")


class InputSpec(Strict):
    """The network's input: channels and square or (height, width) resolution."""

    channels: Channels = Field(3, description="Number of input channels (3 for RGB images).")
    resolution: Pixels | tuple[Pixels, Pixels] = Field(
        224, description="Input size in pixels: one integer for a square image, or [height, width].")


class StageRow(BaseModel):
    """One row of the paper's table: a block (or primitive) repeated ``n`` times; other keys are its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, allow_inf_nan=False)
    name: Name | None = Field(None, description="Stage name, prefixing its module names; default: stage1, stage2, "
                                               "... by row.")
    block: str = Field(validation_alias=AliasChoices("block", *ROW_ALIASES["block"]),
                       description="The block (from a library or the spec) or primitive op the row repeats.")
    n: Repeats | str = Field(
        1, validation_alias=AliasChoices("n", *ROW_ALIASES["n"]), description="Repeats (or an expression).")
    stride: Pixels | str | None = Field(None, validation_alias=AliasChoices("stride", *ROW_ALIASES["stride"]),
                                     description="Stride of the first repeat; later repeats use 1.")
    resolution: Pixels | None = Field(None, description="Expected input resolution (checked).")
    fixed: bool = Field(False, description="Scaling leaves this row alone.")
    side: bool = Field(False, description="A side output (auxiliary head): the main path continues from its input.")
    when: bool | str | None = Field(None, description="Condition (an expression); when false the row is skipped.")

    @property
    def args(self) -> dict[str, Any]:
        """The block arguments written in the row."""
        return dict(self.model_extra or {})


class ScaledVariant(Strict):
    """One entry of a released table of scaled networks (EfficientNet's B1-B7): multipliers and an input size
    given as numbers, not derived from a compound coefficient."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$", description="The scaled network's name.")
    depth: float = Field(1.0, gt=0, le=100, description="Depth multiplier (repeats).")
    width: float = Field(1.0, gt=0, le=100, description="Width multiplier (channels).")
    image_size: Pixels | None = Field(None, description="Input resolution of the scaled network.")
    variables: dict[str, Value] = Field(default_factory=dict,
                                        description="Variables the variant sets besides (dropout, norm settings).")


class Scaling(Strict):
    """How the network scales: compound coefficients and rounding (EfficientNet, Sec. 3.3)."""

    alpha: float = Field(1.2, gt=0, description="Depth coefficient: repeats grow by alpha^phi.")
    beta: float = Field(1.1, gt=0, description="Width coefficient: channels grow by beta^phi.")
    gamma: float = Field(1.15, gt=0, description="Resolution coefficient: resolution grows by gamma^phi.")
    divisor: Small = Field(8, description="Scaled channels are rounded to a multiple of this.")
    resolution_divisor: Small = Field(1, description="Scaled resolutions are rounded to a multiple of this.")
    channel_variables: list[str] = Field(default_factory=list,
                                         description="Variables that are channel counts (e.g. a transformer's width).")
    depth_variables: list[str] = Field(default_factory=list,
                                       description="Variables that are repeat counts (e.g. a transformer's layers).")
    width_multipliers: list[str] = Field(default_factory=list,
                                         description="Variables that are width multipliers themselves "
                                                     "(MobileNet's alpha): multiplied by the width factor.")
    variants: dict[str, ScaledVariant] = Field(default_factory=dict,
                                               description="A released table of scaled networks, by the name "
                                                           "scale --variant takes (EfficientNet's b1 to b7).")


class ScaledFrom(Strict):
    """Where a scaled spec comes from (``archspec scale`` writes it): the network it was scaled from and how."""

    name: str = Field(description="The network the spec was scaled from.")
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$",
                              description="That spec's content hash (sha256 of it and its blocks, validated).")
    reference: Reference | None = Field(None, description="That network's independent implementation, which the "
                                                          "scaled network no longer equals.")
    phi: float | None = Field(None, description="The compound coefficient asked for, if any.")
    depth: float = Field(1.0, gt=0, description="The depth multiplier asked for (repeats).")
    width: float = Field(1.0, gt=0, description="The width multiplier asked for (channels).")
    resolution: float = Field(1.0, gt=0, description="The resolution multiplier asked for.")
    image_size: Pixels | None = Field(None, description="The input size asked for instead, if any.")


class VariantSpec(Strict):
    """A library network made from another spec by setting its variables, as ``--set`` would (a width variant)."""

    extends: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                         description="The spec this one is a variant of: a spec file's name in the same folder, "
                                     "without its suffix.")
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="The variant's name; by convention its file's.")
    description: str | None = Field(None, description="A sentence or two saying what the variant is.")
    paper: Paper | None = Field(None, description="The paper, where it is not the base spec's.")
    reported: Reported | None = Field(None, description="Published accuracy and figures of the variant.")
    reference: Reference | None = Field(None, description="The variant's own independent implementation.")
    notes: str | None = Field(None, description="What the variant changes, and why.")
    variables: dict[str, Value] = Field(default_factory=dict,
                                        description="The base spec's variables this variant sets.")


class NetworkSpec(Strict):
    """A whole network: input, stem, stages (the paper's table) and head, plus the blocks they use."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$",
                      description="The network's name; by convention the spec file's name (torchvision's where "
                                  "it has one).")
    description: str | None = Field(None, description="A sentence or two saying what the network is.")
    paper: Paper | None = Field(None, description="The paper the architecture was published in.")
    reported: Reported | None = Field(None, description="Published accuracy, and the paper's params and MACs.")
    reference: Reference | None = Field(None, description="The independent implementation the spec is checked "
                                                          "against.")
    notes: str | None = Field(None, description="Where and why the spec departs from the paper.")
    input: InputSpec = Field(default_factory=InputSpec, description="The input's channels and resolution.")
    variables: dict[str, Value] = Field(default_factory=dict,
                                        description="Network-wide settings; they also configure blocks by name.")
    scaling: Scaling | None = Field(None, description="How the network scales (archspec scale); default: "
                                                     "EfficientNet's coefficients.")
    scaled_from: ScaledFrom | None = Field(None, description="The network this spec was scaled from (archspec scale "
                                                             "writes it).")
    imports: list[str] = Field(default_factory=list, description="Block library files, relative to this file.")
    blocks: dict[str, BlockDef] = Field(default_factory=dict,
                                        description="Blocks of this spec only, by name; they take precedence over "
                                                    "imported blocks of the same name.")
    stem: list[Item] = Field(default_factory=list, description="Items applied to the input before the stages.")
    stages: list[StageRow] = Field(default_factory=list, description="The paper's table: rows applied in order.")
    head: list[Item] = Field(default_factory=list,
                             description="Items applied after the last stage (e.g. pooling and the classifier).")
