"""The Python API: ``load`` a spec, ``analyze`` it, ``build`` a torch module."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from archspec.analysis import analyze_graph
from archspec.analysis.report import Report, make_report
from archspec.errors import SpecError
from archspec.ir.build import Builder
from archspec.ir.graph import Graph
from archspec.ir.verify import verify
from archspec.spec.load import BlockRef, read_spec
from archspec.spec.schema import NetworkSpec
from archspec.spec.source import Source

if TYPE_CHECKING:
    from torch import nn


@dataclass
class Spec:
    """A validated network spec with its blocks; analysis and compilation are computed on demand."""

    network: NetworkSpec
    source: Source
    blocks: dict[str, BlockRef] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The network's name."""
        return self.network.name

    def with_overrides(self, *, num_classes: int | None = None, image_size: int | None = None,
                       variables: dict[str, Any] | None = None) -> Spec:
        """A copy with other values for ``variables`` (``num_classes`` is one) or another input resolution."""
        network = self.network
        updates = dict(variables or {})
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
                raise SpecError(f"--num-classes must be an integer >= 1, got {num_classes!r}")
            updates["num_classes"] = num_classes
        unknown = [name for name in updates if name not in network.variables]
        if unknown:
            known = ", ".join(sorted(network.variables)) or "none"
            raise self.source.error(("variables",), f"this spec has no {unknown[0]!r} variable to override "
                                                    f"(variables: {known})")
        if updates:
            network = network.model_copy(update={"variables": {**network.variables, **updates}})
        if image_size is not None:
            if isinstance(image_size, bool) or not isinstance(image_size, int) or not 1 <= image_size <= 16384:
                raise SpecError(f"--image-size must be an integer between 1 and 16384, got {image_size!r}")
            # the table's resolution column describes the spec's own input size, so it no longer applies
            stages = [row.model_copy(update={"resolution": None}) for row in network.stages]
            network = network.model_copy(
                update={"input": network.input.model_copy(update={"resolution": image_size}), "stages": stages})
        return Spec(network, self.source, self.blocks)

    @cached_property
    def graph(self) -> Graph:
        """The IR, built, verified and annotated by every analysis pass."""
        graph = Builder(self.network, self.source, self.blocks).build()
        verify(graph)
        return analyze_graph(graph)

    def analyze(self) -> Report:
        """Shapes, parameters, MACs/FLOPs, activation memory and receptive fields, without running a tensor."""
        return make_report(self.graph)

    def build(self) -> nn.Module:
        """Compile to a plain ``torch.nn.Module`` (PyTorch's default initialisation)."""
        from archspec.backends.torch_module import to_module

        return to_module(self.graph)


def load(path: str | FsPath, *, num_classes: int | None = None, image_size: int | None = None,
         variables: dict[str, Any] | None = None) -> Spec:
    """Read and validate a spec file; optional overrides as on the command line."""
    network, source, blocks = read_spec(path)
    spec = Spec(network, source, blocks)
    if num_classes is not None or image_size is not None or variables:
        spec = spec.with_overrides(num_classes=num_classes, image_size=image_size, variables=variables)
    return spec
