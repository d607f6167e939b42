"""The Python API: ``load`` a spec, ``analyze`` it, ``build`` a torch module."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from archspec.analysis import analyze_graph
from archspec.analysis.report import BYTES_PER_ELEMENT, Report, make_report
from archspec.errors import GraphError, SpecError
from archspec.ir.build import Builder
from archspec.ir.graph import Graph
from archspec.ir.verify import verify
from archspec.library import default_library, find_spec, is_library_name
from archspec.spec.load import read_head, read_spec
from archspec.spec.schema import BlockRef, NetworkSpec
from archspec.spec.source import Source, read_yaml

if TYPE_CHECKING:
    import graphviz

    from archspec.backends.network import Network
    from archspec.backends.summary import Summary

MAX_CLASSES = 1_000_000
MAX_PIXELS = 16384  # the schema's largest resolution


@dataclass
class Spec:
    """A validated network spec with its blocks; analysis and compilation are computed on demand."""

    network: NetworkSpec
    source: Source
    blocks: dict[str, BlockRef] = field(default_factory=dict)
    head_source: Source | None = None  # where a replaced head was read from (see with_head)
    file: str | None = None  # the file read: a variant's own, where ``source`` is its base's

    @property
    def name(self) -> str:
        """The network's name."""
        return self.network.name

    def with_overrides(self, *, num_classes: int | None = None, image_size: int | None = None,
                       variables: dict[str, Any] | None = None) -> Spec:
        """A copy with other values for ``variables`` (``num_classes`` is one) or another input resolution."""
        network = self.network
        if variables is not None and not isinstance(variables, Mapping):
            raise SpecError(f"variables: expected a mapping of names to values, got {type(variables).__name__}")
        updates = dict(variables or {})
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int) \
                    or not 1 <= num_classes <= MAX_CLASSES:
                raise SpecError(f"--num-classes must be an integer from 1 to {MAX_CLASSES}, got {num_classes!r}")
            updates["num_classes"] = num_classes
        unknown = [name for name in updates if name not in network.variables]
        if unknown:
            known = ", ".join(sorted(network.variables)) or "none"
            raise self.source.error(("variables",), f"this spec has no {unknown[0]!r} variable to override "
                                                    f"(variables: {known})")
        if updates:
            network = network.model_copy(update={"variables": {**network.variables, **updates}})
        if image_size is not None:
            check_image_size(image_size)
            # the table's resolution column describes the spec's own input size, so it no longer applies
            stages = [row.model_copy(update={"resolution": None}) for row in network.stages]
            reported = network.reported  # its accuracies stay those measured at the spec's own size
            if reported is not None and reported.resolution is None:
                reported = reported.model_copy(update={"resolution": network.input.resolution})
            network = network.model_copy(update={
                "input": network.input.model_copy(update={"resolution": image_size}), "stages": stages,
                "reported": reported})
        return replace(self, network=network)

    def with_head(self, head: list[Any] | Mapping[str, Any] | str | FsPath) -> Spec:
        """A copy with another head (transfer learning): a list of items, a mapping ``{"head": [items]}``, or a
        YAML file holding that mapping.

        The new head is validated like a spec's own, may use the spec's blocks and variables (``$num_classes``),
        and its errors are located in the file it comes from.
        """
        if isinstance(head, list):
            head = {"head": head}
        source = Source("<head>", dict(head)) if isinstance(head, Mapping) else read_yaml(head)
        network = self.network.model_copy(update={"head": read_head(source, self.blocks)})
        return replace(self, network=network, head_source=source)

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the validated spec and its blocks' definitions (weights carry it)."""
        return content_hash(self.network, self.blocks)

    @cached_property
    def graph(self) -> Graph:
        """The IR, built, verified and annotated by every analysis pass."""
        graph = Builder(self.network, self.source, self.blocks, self.head_source).build()
        # computed when compiling asks for it; a partial, not a closure over self, which would make a cycle
        graph.hash_spec = partial(content_hash, self.network, self.blocks)
        verify(graph)
        return analyze_graph(graph)

    def analyze(self) -> Report:
        """Shapes, parameters, MACs/FLOPs, activation memory and receptive fields, without running a tensor."""
        return make_report(self.graph)

    def diagram(self, level: str = "block", expand: bool = False, edge_shapes: bool = False,
                direction: str = "TB") -> graphviz.Digraph:
        """The network as a Graphviz digraph, as ``archspec draw`` draws it (``level``: stage, block or layer;
        ``direction``: TB, LR, BT or RL; notebooks display it as SVG)."""
        from archspec.backends.diagram import diagram

        return diagram(self.graph, level, expand, edge_shapes, direction)

    def __repr__(self) -> str:
        return f"<Spec {self.name} from {self.file or self.source.file}>"

    def _repr_html_(self) -> str:
        return summary(self, depth=1)._repr_html_()

    def check_memory(self, limit: int | None = None) -> None:
        """Refuse, before anything is allocated, a network whose weights or activations exceed ``limit`` bytes
        (default: ``ARCHSPEC_MEMORY_LIMIT`` or 8 GiB)."""
        limit = memory_limit() if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SIZE:
            raise SpecError(f"memory_limit: expected a number of bytes from 1 to 2**60, got {limit!r}")
        report = self.analyze()
        for what, size in (("weights (params + buffers)", (report.params + report.buffers) * BYTES_PER_ELEMENT),
                           ("activations (inference peak, batch 1)", report.peak_activations * BYTES_PER_ELEMENT)):
            if size > limit:
                raise GraphError(f"the network's {what} need {size / 2**30:.2f} GiB, above the memory limit of "
                                 f"{limit / 2**30:.2f} GiB (raise it with --memory-limit or ARCHSPEC_MEMORY_LIMIT)",
                                 self.source.locate(()))

    def build(self, *, memory_limit: int | None = None, freeze_until: str | None = None,
              features_only: bool = False, out_indices: list[int] | None = None) -> Network:
        """Compile to a ``torch.nn.Module`` tree (PyTorch's default initialisation), within the memory limit;
        ``freeze_until`` freezes every stage up to and including the named one (BatchNorm kept in eval mode).

        With ``features_only`` the module returns the feature maps at the end of the stem and of each row (those
        ``out_indices`` picks from ``feature_info``, by default all) as a tuple, and no head."""
        from archspec.backends.network import feature_info
        from archspec.backends.torch_module import to_module

        frozen = self.stages_until(freeze_until) if freeze_until is not None else []
        self.check_memory(memory_limit)
        outputs = None
        if features_only or out_indices is not None:
            found = feature_info(self.analyze().graph)
            if not found:
                raise SpecError(f"{self.name}: no stage ends in a feature map (C, H, W), so there are no features")
            picked = list(range(len(found))) if out_indices is None else list(out_indices)
            bad = [i for i in picked
                   if isinstance(i, bool) or not isinstance(i, int) or not -len(found) <= i < len(found)]
            if bad or not picked:
                raise SpecError(f"out_indices: {bad[0] if bad else picked!r} is not one of the {len(found)} feature "
                                f"maps ({', '.join(entry['module'] for entry in found)})")
            outputs = [found[i]["node"] for i in picked]
        model = to_module(self.graph, outputs=outputs)
        if frozen:
            from archspec.backends.finetune import freeze

            freeze(model, frozen)
        return model

    def stages_until(self, stage: str) -> list[str]:
        """The stages from the first (``stem``) up to and including ``stage``, in network order."""
        stages = list(self.graph.stages)
        if stage not in stages:
            raise self.source.error(("stages",), f"no stage {stage!r} (stages: {', '.join(stages)})")
        return stages[: stages.index(stage) + 1]


def content_hash(network: NetworkSpec, blocks: dict[str, BlockRef]) -> str:
    """sha256 of the canonical JSON of a validated spec and its blocks' definitions."""
    content = {"network": network.model_dump(mode="json"),
               "blocks": {name: ref.definition.model_dump(mode="json") for name, ref in blocks.items()}}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_image_size(image_size: Any) -> int:
    """``image_size`` if it is a valid input resolution (an integer from 1 to MAX_PIXELS, as ``--image-size``)."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 1 <= image_size <= MAX_PIXELS:
        raise SpecError(f"--image-size must be an integer from 1 to {MAX_PIXELS}, got {image_size!r}")
    return image_size


def memory_limit() -> int:
    """Bytes allowed for a network's weights or activations: ``ARCHSPEC_MEMORY_LIMIT`` (e.g. ``8G``), else 8 GiB."""
    return parse_size(os.environ.get("ARCHSPEC_MEMORY_LIMIT", "8G"), "ARCHSPEC_MEMORY_LIMIT")


MAX_SIZE = 2**60
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def parse_size(text: str, what: str = "size") -> int:
    """``'8G'`` -> 8 GiB in bytes (suffixes K, M, G, T, P; plain numbers are bytes), from 1 byte to 2^60;
    anything else is a SpecError naming ``what``."""
    digits = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = _UNITS.get(digits[-1:], 1)
    try:
        number = float(digits[:-1] if scale > 1 else digits)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and 1 <= number * scale <= MAX_SIZE):
        raise SpecError(f"{what}: expected a size from 1 byte to 1024P such as 8G or 512M, got {text!r}")
    return int(number * scale)


def load(path: str | FsPath, *, num_classes: int | None = None, image_size: int | None = None,
         variables: dict[str, Any] | None = None) -> Spec:
    """Read and validate a spec file, or the library network of that name (``"resnet50"``; a file of that name
    wins); optional overrides as on the command line."""
    file = find_spec(path)
    network, source, blocks = read_spec(file)
    spec = Spec(network, source, blocks, file=file)
    if num_classes is not None or image_size is not None or variables:
        spec = spec.with_overrides(num_classes=num_classes, image_size=image_size, variables=variables)
    return spec


def create_model(name: str | FsPath, *, num_classes: int | None = None, image_size: int | None = None,
                 variables: dict[str, Any] | None = None, pretrained_weights: str | FsPath | None = None,
                 memory_limit: int | None = None, features_only: bool = False,
                 out_indices: list[int] | None = None) -> Network:
    """The compiled module of a library network (or spec file), as ``timm.create_model``: ``num_classes`` and
    ``image_size`` override the spec's, ``pretrained_weights`` loads a ``.safetensors`` file saved by
    ``save_weights`` or a torchvision/timm state dict saved with ``torch.save`` (matched by ``transfer_weights``).
    Nothing is downloaded. ``features_only`` and ``out_indices``: the feature extractor (see ``Spec.build``),
    holding the whole network's weights where it has them."""
    spec = load(name, num_classes=num_classes, image_size=image_size, variables=variables)
    model = spec.build(memory_limit=memory_limit)
    if pretrained_weights is not None:
        from archspec.backends.checkpoint import load_reference_weights

        load_reference_weights(model, pretrained_weights)
    if not features_only and out_indices is None:
        return model
    features = spec.build(features_only=True, out_indices=out_indices)
    weights = model.state_dict()
    features.load_state_dict({key: weights[key] for key in features.state_dict()})
    return features


def summary(network: Spec | str | os.PathLike[str] | Any, *, depth: int | None = 3,
            columns: Sequence[str] | str | None = None, dtype: str = "float32") -> Summary:
    """The layer table of a network (torchinfo's ``summary``, without running it): a ``Spec``, a spec file or
    library name, or a module ``Spec.build`` compiled; one row per module down to ``depth`` (1: the stages and
    the head's layers; None: every layer), with ``columns`` of ``summary.COLUMNS`` (default all) and sizes at
    ``dtype``. ``str()`` is the text table; ``to_csv()``, ``to_dict()`` and notebooks' HTML give the same rows."""
    from archspec.backends.summary import make_summary

    if isinstance(network, Spec):
        report = network.analyze()
    elif isinstance(network, str | os.PathLike):
        report = load(os.fspath(network)).analyze()
    else:
        from archspec.backends.network import compiled_from

        graph = compiled_from(network) or _library_graph(network)
        if not isinstance(graph, Graph):
            compiled = getattr(network, "spec_name", None)
            raise SpecError(f"summary: expected a Spec, a spec file, a library network name or a module that "
                            f"Spec.build compiled, got {type(network).__name__}"
                            + (f" (a copy of {compiled!r} built with other settings than the library's: pass the spec)"
                               if compiled else ""))
        report = make_report(graph)
    return make_summary(report, depth, columns, dtype)


def _library_graph(network: Any) -> Graph | None:
    """The analysed graph of the library spec a copied or reloaded module was compiled from, if its hash is that
    spec's (a copy keeps the spec's name and hash, not its graph)."""
    name, digest = getattr(network, "spec_name", None), getattr(network, "spec_hash", None)
    path = default_library() / f"{name}.yaml"
    if not isinstance(name, str) or not is_library_name(name) or not path.is_file():
        return None
    spec = load(path)
    return spec.graph if spec.content_hash == digest else None
