"""The library's pages: the index of every network and one page per network, with its figures and verification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from archspec.analysis.report import Report
from archspec.api import Spec
from archspec.backends.table import table
from archspec.backends.text import field_summary, human, pixels, short_field
from archspec.docs import markdown as md
from archspec.errors import FieldPath
from archspec.spec.schema import BlockItem, BlockRef, NetworkSpec, VariantSpec
from archspec.spec.source import read_yaml
from archspec.spec.visit import ItemWalker


@dataclass
class Network:
    """One spec of the library with its analysis, for its page."""

    path: Path
    spec: Spec
    report: Report

    @property
    def name(self) -> str:
        """The spec's file name without ``.yaml`` (= its network name)."""
        return self.path.stem

    @cached_property
    def variant(self) -> VariantSpec | None:
        """What the file sets of the spec it extends, when it is a variant."""
        data = read_yaml(self.path).data
        return VariantSpec.model_validate(data) if isinstance(data, dict) and "extends" in data else None


def set_command(variant: VariantSpec) -> str:
    """The command line that builds a variant from its base spec."""
    settings = "".join(f" --set {name}={json.dumps(value, separators=(',', ':'))}"
                       for name, value in variant.variables.items())
    return f"archspec build {variant.extends}{settings}"


def _top1(network: NetworkSpec) -> str:
    reported = network.reported
    return f"{reported.top1:.2f} ({_measured(network)})" if reported and reported.top1 is not None else "-"


def _measured(network: NetworkSpec) -> str:
    """The dataset and input size of the network's reported accuracies: ``ImageNet-1k, 224 px``."""
    assert network.reported is not None
    return f"{network.reported.dataset}, {pixels(network.reported.resolution or network.input.resolution)}"


def _twin(network: NetworkSpec) -> str | None:
    reference = network.reference
    if reference is None:
        return None
    library, name = ("torchvision", reference.torchvision) if reference.torchvision else ("timm", reference.timm)
    kwargs = ", ".join(f"{key}={value!r}" for key, value in reference.kwargs.items())
    return f"{library} `{name}({kwargs})`"


def _checked_against(network: NetworkSpec) -> str:
    parts = [_twin(network) or ""]
    if network.reported and network.reported.params:
        parts.append("the paper's params" + (" and MACs" if network.reported.macs else ""))
    return "; ".join(part for part in parts if part)


def library_index(networks: list[Network]) -> str:
    """The library's index page: one row per network with its figures and what it was verified against."""
    rows = []
    for net in networks:
        paper = net.spec.network.paper
        rows.append([f"[{net.name}]({net.name}.md)", f"{paper.year}" if paper else "",
                     "x".join(map(str, net.report.input_shape)), human(net.report.params),
                     human(net.report.macs), short_field(net.report.receptive_field), _top1(net.spec.network),
                     _checked_against(net.spec.network)])
    return "\n".join([
        "# Library", "", md.NOTE.format(source="specs/*.yaml"), "",
        f"The {len(networks)} networks of `specs/`, each on a page with its paper, its table as the spec writes "
        "it, its diagram, its figures and what it was verified against. RF is the receptive field of the last "
        "spatial feature map in pixels (\\* = it also sees global context, through squeeze-excitation or "
        "attention); top-1 is the reported ImageNet (or the paper's dataset) accuracy, not measured here. "
        "The [gallery](../gallery.md) shows every diagram on one page.", "",
        *md.table(["network", "year", "input", "params", "MACs", "RF", "top-1", "verified against"], rows),
    ]) + "\n"


class _BlocksUsed(ItemWalker[None]):
    """Collects the blocks items use, directly or through other blocks, in order of first use."""

    def __init__(self, blocks: dict[str, BlockRef]) -> None:
        self.blocks = blocks
        self.used: list[str] = []

    def use(self, name: str) -> None:
        """Record a block and walk its definition, on first use."""
        if name in self.blocks and name not in self.used:
            self.used.append(name)
            self.visit(self.blocks[name].definition.body, (), None)

    def visit_block(self, item: BlockItem, path: FieldPath, context: None) -> None:
        """A block use."""
        self.use(item.block)


def _blocks_used(spec: Spec) -> list[str]:
    """Names of the blocks the network uses, directly or through other blocks, in order of first use."""
    walker = _BlocksUsed(spec.blocks)
    network = spec.network
    for item in network.stem:
        walker.visit(item, (), None)
    for row in network.stages:
        walker.use(row.block)
    for item in network.head:
        walker.visit(item, (), None)
    return walker.used


def _verification(net: Network) -> list[str]:
    network, report = net.spec.network, net.report
    lines = []
    twin = _twin(network)
    if twin:
        published = (" (and, where torchvision publishes them for its weights, the same GMACs)"
                     if network.reference is not None and network.reference.torchvision else "")
        lines.append(f"- **Its twin**, {twin}: the same parameters and buffers{published}; the same outputs "
                     "once `archspec.transfer_weights` has loaded the twin's (randomised) weights; output shapes, "
                     "parameters and MACs node by node against a forward pass and PyTorch's `FlopCounterMode`.")
    reported = network.reported
    if reported and reported.params:
        figures = [("parameters", reported.params, report.params)]
        if reported.macs:
            figures.append(("MACs", reported.macs, report.macs))
        said = " and ".join(f"{paper:,} {what} (archspec: {ours:,}, {ours / paper - 1:+.1%})"
                            for what, paper, ours in figures)
        within = f"within {reported.tolerance * 100:g}%" if reported.tolerance else "exactly"
        lines.append(f"- **The paper's figures**: {said}, checked {within}. " + md.prose(reported.convention or ""))
    if reported and reported.top1 is not None:
        lines.append(f"- Top-1 {reported.top1:g}%" + (f", top-5 {reported.top5:g}%" if reported.top5 else "")
                     + f" ({_measured(network)}): reported by {md.prose(reported.source)}; archspec does not train.")
    return lines or ["- Nothing independent: the spec is only checked for consistency."]


def _figures(report: Report) -> list[list[str]]:
    rf = report.receptive_field
    outputs = ", ".join("x".join(map(str, shape)) for shape in report.output_shapes)
    return [
        ["input", "x".join(map(str, report.input_shape))],
        ["output", outputs + (" (main, then side outputs)" if len(report.output_shapes) > 1 else "")],
        ["params", f"{report.params:,} ({human(report.params)})"],
        ["buffers", f"{report.buffers:,} (BatchNorm statistics and counters)"],
        ["MACs", f"{report.macs:,} ({human(report.macs)}); FLOPs = 2 x MACs"],
        ["other ops", f"{report.other_ops:,} (norms, activations, pooling, merges)"],
        ["activations", f"{report.activations:,} elements per sample (inference peak {report.peak_activations:,})"],
        ["receptive field", field_summary(rf) + (", and global context (squeeze-excitation or attention)"
                                                 if rf["global_context"] else "")],
    ]


def _variants(net: Network, variants: list[Network]) -> list[str]:
    if net.variant is not None:
        return [f"- **A variant of** [`{net.variant.extends}`]({net.variant.extends}.md): the same spec with other "
                f"values for its variables, as `{set_command(net.variant)}` builds it"]
    return [f"- **Variant** [`{other.name}`]({other.name}.md): `{set_command(other.variant)}`"
            for other in variants if other.variant is not None and other.variant.extends == net.name]


def library_page(net: Network, library: Path, networks: list[Network]) -> str:
    """One network's page: paper, variants, figures, verification, notes, the paper's table, diagram and spec."""
    network = net.spec.network
    lines = [f"# {net.name}", "", md.NOTE.format(source=f"specs/{net.path.name}"), ""]
    if network.description:
        lines += [md.prose(network.description), ""]
    if network.paper:
        paper = network.paper
        title = f"[{md.prose(paper.title)}]({paper.url})" if paper.url else md.prose(paper.title)
        authors = f", {md.prose(paper.authors)}" if paper.authors else ""
        lines.append(f"- **Paper**: {title}{authors} ({paper.year})")
        if paper.table:
            lines.append(f"- **The spec mirrors**: {md.prose(paper.table)}")
    lines.append(f"- **Spec file**: `specs/{net.path.name}`")
    lines += _variants(net, networks)
    for name in _blocks_used(net.spec):
        ref = net.spec.blocks[name]
        where = Path(ref.source.file).resolve().relative_to(library.resolve()).as_posix()
        lines.append(f"- **Block `{name}`** (`specs/{where}`): {md.prose(ref.definition.doc)}")
    lines += ["", "## Figures", "", *md.table(["figure", "value"], _figures(net.report)), "",
              "## Verified against", "", *_verification(net), ""]
    if network.notes:
        lines += ["## Notes", "", md.prose(network.notes), ""]
    lines += ["## The paper's table", "", "As `archspec table` prints it: the rows as written, then the computed "
              "input resolution, channels, output, params, MACs and receptive field.", "",
              table(net.spec.graph, "markdown").rstrip(), "",
              "## Diagram", "", f"![{net.name} at block level](../gallery/{net.name}.svg)", "",
              "## The spec", "", "```yaml", net.path.read_text().rstrip(), "```"]
    return "\n".join(lines) + "\n"
