"""Model scaling as a spec -> spec transformation: depth, width and resolution, alone or compound (phi).

Rounding follows the reference implementations (TF EfficientNet, torchvision, timm): channels to a multiple
of ``divisor`` never more than 10% below the exact value; repeats rounded up with exact decimal arithmetic
(``ceil(2.2 * 25)`` is 55, not float's 56); resolution to the nearest pixel. Only literal numbers scale:
expressions (``$num_classes``) and rows marked ``fixed`` are left alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archspec.api import Spec
from archspec.errors import FieldPath, SpecError
from archspec.ops import OPS
from archspec.spec.functions import make_divisible
from archspec.spec.locate import validate
from archspec.spec.schema import BlockItem, Item, NetworkSpec, OpItem, Scaling
from archspec.spec.source import Source
from archspec.spec.visit import ItemTransformer, with_args


def exact(value: float | str | Fraction) -> Fraction:
    """A multiplier as an exact fraction of its decimal spelling (1.1 -> 11/10)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(repr(float(value)))


@dataclass(frozen=True)
class Multipliers:
    """Depth, width and resolution multipliers; ``image_size`` sets the resolution absolutely instead."""

    depth: Fraction = Fraction(1)
    width: Fraction = Fraction(1)
    resolution: Fraction = Fraction(1)
    image_size: int | None = None

    @classmethod
    def compound(cls, phi: float, scaling: Scaling) -> Multipliers:
        """alpha^phi, beta^phi, gamma^phi (exact for integer phi)."""
        if float(phi).is_integer():
            power = int(phi)
            return cls(exact(scaling.alpha) ** power, exact(scaling.beta) ** power, exact(scaling.gamma) ** power)
        return cls(exact(scaling.alpha ** phi), exact(scaling.beta ** phi), exact(scaling.gamma ** phi))


@dataclass(frozen=True)
class Achieved:
    """What the rounding actually produced, as ratios to the original."""

    depth: float
    width: float
    resolution: float


def round_channels(value: int, width: Fraction, divisor: int) -> int:
    """Scale a channel count by ``width`` and round it like the reference implementations."""
    if width == 1:
        return value
    return make_divisible(float(value * width), divisor)


def round_repeats(value: int, depth: Fraction) -> int:
    """Scale a repeat count by ``depth``, rounding up exactly."""
    return math.ceil(value * depth)


class _Scaler(ItemTransformer[None]):
    """Scales the channel counts of items (through the item visitor) and of table rows."""

    def __init__(self, spec: Spec, multipliers: Multipliers, divisor: int) -> None:
        self.spec, self.m, self.divisor = spec, multipliers, divisor
        self.channels: list[tuple[int, int]] = []  # (before, after) of every scaled channel count
        self.repeats: list[tuple[int, int]] = []

    def _is_int(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def channel(self, value: Any) -> Any:
        if not self._is_int(value) or self.m.width == 1:
            return value
        scaled = round_channels(value, self.m.width, self.divisor)
        self.channels.append((value, scaled))
        return scaled

    def repeat(self, value: Any) -> Any:
        if not self._is_int(value) or self.m.depth == 1:
            return value
        scaled = round_repeats(value, self.m.depth)
        self.repeats.append((value, scaled))
        return scaled

    def channel_keys(self, kind: str, is_op: bool) -> tuple[str, ...]:
        if not is_op and kind in self.spec.blocks:
            return tuple(self.spec.blocks[kind].definition.channel_params)
        op = OPS.get(kind)
        return op.channel_attrs if op else ()

    def scaled(self, kind: str, is_op: bool, args: dict[str, Any]) -> dict[str, Any]:
        """The channel counts among ``args``, scaled."""
        return {key: self.channel(args[key]) for key in self.channel_keys(kind, is_op) if key in args}

    def visit_op(self, item: OpItem, path: FieldPath, context: None) -> Item:
        return with_args(item, self.scaled(item.op, True, item.attrs))

    def visit_block(self, item: BlockItem, path: FieldPath, context: None) -> Item:
        return with_args(item, self.scaled(item.block, False, item.args))

    def items(self, items: list[Item]) -> list[Item]:
        """A section's items, scaled."""
        return [self.visit(item, (), None) for item in items]

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get("fixed"):
            return row
        out = dict(row)
        for key in self.channel_keys(out["block"], is_op=False):
            if key in out:
                out[key] = self.channel(out[key])
        block = self.spec.blocks.get(out["block"])
        if block is not None and not out.get("side"):  # repeating a pooling row is not depth
            if block.definition.depth_params:
                for key in block.definition.depth_params:
                    if key in out:
                        out[key] = self.repeat(out[key])
            else:
                out["n"] = self.repeat(out.get("n", 1))
        out.pop("resolution", None)  # re-derived from the scaled network
        return out


def scale(spec: Spec, multipliers: Multipliers, *, name: str | None = None,
          divisor: int | None = None, phi: float | None = None) -> tuple[Spec, Achieved]:
    """The scaled spec (valid, with recomputed table resolutions, ``scaled_from`` saying what it was scaled
    from and how: ``phi`` if the multipliers came from one) and the multipliers achieved."""
    network = spec.network
    scaling = network.scaling or Scaling()
    scaler = _Scaler(spec, multipliers, divisor or scaling.divisor)
    sections = {"stem": scaler.items(network.stem), "head": scaler.items(network.head)}
    data = network.model_copy(update=sections).model_dump(mode="json", exclude_defaults=True)
    had_resolution = {i for i, row in enumerate(network.stages) if row.resolution is not None}
    data["name"] = name or f"{network.name}_scaled"
    data.pop("reported", None)  # the original's figures: the scaled network's are its own
    if "scaling" in data:  # a variants table is relative to the original
        data["scaling"].pop("variants", None)
    data["scaled_from"] = {  # the reference (the original's twin) goes with it: the scaled network has none
        "name": network.name, "content_hash": spec.content_hash,
        **({"reference": data.pop("reference")} if "reference" in data else {}),
        **({"phi": phi} if phi is not None else {}),
        "depth": float(multipliers.depth), "width": float(multipliers.width),
        "resolution": float(multipliers.resolution),
        **({"image_size": multipliers.image_size} if multipliers.image_size is not None else {})}
    data["description"] = (f"{network.name} scaled: depth x{float(multipliers.depth):.4g}, width "
                           f"x{float(multipliers.width):.4g}, " + (f"image size {multipliers.image_size}"
                           if multipliers.image_size else f"resolution x{float(multipliers.resolution):.4g}"))
    variables = dict(data.get("variables", {}))
    for key in scaling.channel_variables:
        variables[key] = scaler.channel(variables.get(key))
    for key in scaling.depth_variables:
        variables[key] = scaler.repeat(variables.get(key))
    for key in scaling.width_multipliers:
        if isinstance(variables.get(key), int | float) and multipliers.width != 1:
            before = variables[key]
            variables[key] = round(float(before * multipliers.width), 6)
            scaler.channels.append((before, variables[key]))
    if variables:
        data["variables"] = variables
    data["stages"] = [scaler.row(row) for row in data.get("stages", [])]
    old = network.input.resolution
    old_hw = old if isinstance(old, tuple) else (old, old)
    step, factor = scaling.resolution_divisor, multipliers.resolution
    new_hw = ((multipliers.image_size, multipliers.image_size) if multipliers.image_size is not None else
              (_resolution(old_hw[0], factor, step), _resolution(old_hw[1], factor, step)))
    data.setdefault("input", {})["resolution"] = new_hw[0] if new_hw[0] == new_hw[1] else list(new_hw)
    scaled = Spec(_validate(data, spec.source), spec.source, spec.blocks)
    graph = scaled.graph  # builds and checks the scaled network
    for stage in graph.rows:
        if stage.row in had_resolution and len(stage.input_shape) == 3:
            data["stages"][stage.row]["resolution"] = stage.input_shape[1]
    result = Spec(_validate(data, spec.source), spec.source, spec.blocks)
    return result, Achieved(
        depth=_ratio(scaler.repeats, _total_repeats(network)),
        width=_mean_ratio(scaler.channels),
        resolution=new_hw[0] / old_hw[0],
    )


def _resolution(pixels: int, multiplier: Fraction, step: int) -> int:
    """``pixels`` scaled, to the nearest multiple of ``step`` (at least ``step``)."""
    return max(step, round(float(pixels * multiplier) / step) * step)


def _validate(data: dict[str, Any], source: Source) -> NetworkSpec:
    try:
        return validate(NetworkSpec, data, source)
    except SpecError as exc:
        raise SpecError(f"after scaling, {exc.message}", exc.location) from None


def _total_repeats(network: NetworkSpec) -> int:
    return sum(n for n in (row.n for row in network.stages) if isinstance(n, int))


def _ratio(pairs: list[tuple[int, int]], total: int) -> float:
    if not pairs or not total:
        return 1.0
    return (total + sum(after - before for before, after in pairs)) / total


def _mean_ratio(pairs: list[tuple[int, int]]) -> float:
    if not pairs:
        return 1.0
    return sum(after / before for before, after in pairs) / len(pairs)


@dataclass(frozen=True)
class ScalingOutcome:
    """Requested against achieved multipliers, and what they did to MACs and params."""

    requested: Multipliers
    achieved: Achieved
    phi: float | None
    base_macs: int
    macs: int
    base_params: int
    params: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "phi": self.phi,
            "requested": {"depth": float(self.requested.depth), "width": float(self.requested.width),
                          "resolution": float(self.requested.resolution), "image_size": self.requested.image_size},
            "achieved": {"depth": self.achieved.depth, "width": self.achieved.width,
                         "resolution": self.achieved.resolution},
            "macs_ratio": self.macs / self.base_macs,
            "params_ratio": self.params / self.base_params,
            "expected_macs_ratio": 2 ** self.phi if self.phi is not None else None,
        }

    def describe(self) -> str:
        """A small table of requested and achieved multipliers, then the MACs ratio."""
        r, a = self.requested, self.achieved
        resolution = f"{r.image_size} px" if r.image_size else f"{float(r.resolution):.4f}"
        lines = ["            requested  achieved",
                 f"depth       {float(r.depth):>9.4f}  {a.depth:>8.4f}   (total repeats)",
                 f"width       {float(r.width):>9.4f}  {a.width:>8.4f}   (mean over scaled channel counts)",
                 f"resolution  {resolution:>9}  {a.resolution:>8.4f}"]
        ratio = f"MACs x{self.macs / self.base_macs:.3f}"
        if self.phi is not None:
            ratio += f" (2^phi = {2 ** self.phi:.3f})"
        lines.append(f"{ratio}; params x{self.params / self.base_params:.3f}")
        return "\n".join(lines)
