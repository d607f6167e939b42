"""Command line: parse arguments, call the API, print. Every ArchspecError is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.api import MAX_CLASSES, Spec, check_image_size, load
from archspec.backends.onnx_export import MAX_OPSET, MIN_OPSET
from archspec.errors import ArchspecError, OutputError, SpecError, printable
from archspec.flags import integer, network_name, number, parse_assignments, size
from archspec.outputs import check_target, write_atomically
from archspec.spec.dump import dump_spec
from archspec.spec.schema import Scaling
from archspec.transforms.scaling import Multipliers, ScalingOutcome, exact, scale

if TYPE_CHECKING:
    from torch import nn

EXIT_USAGE = 2
SORT_KEYS = ("name", "params", "macs", "receptive_field", "top1")
MAX_MULTIPLIER = 100  # per dimension: keeps the scaled network within the schema's repeats and resolutions
MAX_PIXELS = 16384
MAX_DIVISOR = 1024


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(f"{self.prog}: {message}")


def _override_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--num-classes", type=integer("--num-classes", 1, MAX_CLASSES), metavar="N",
                        help="override the number of classes")
    parser.add_argument("--image-size", type=integer("--image-size", 1, MAX_PIXELS), metavar="PX",
                        help="override the input resolution")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a spec variable (repeatable), e.g. --set width_mult=0.5")
    return parser


def _spec_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("spec", help="spec file (YAML)")
    common.add_argument("--head", metavar="FILE.yaml",
                        help="replace the spec's head (transfer learning) with the one in FILE: 'head: [items]'")
    return _override_options(common)


def _load(args: argparse.Namespace, path: str | None = None) -> Spec:
    spec = load(path or args.spec, num_classes=args.num_classes, image_size=args.image_size,
                variables=parse_assignments(args.set))
    head = getattr(args, "head", None)  # only the single-spec commands take --head
    return spec.with_head(head) if head else spec


def _compile(spec: Spec, args: argparse.Namespace) -> nn.Module:
    """The compiled module, frozen up to --freeze-until and holding the --weights, when given."""
    model = spec.build(memory_limit=args.memory_limit, freeze_until=getattr(args, "freeze_until", None))
    if args.weights:
        from archspec.backends.checkpoint import load_weights

        load_weights(model, spec, args.weights)
    return model


def cmd_build(args: argparse.Namespace) -> int:
    """Analyse a spec, print its summary (or JSON), optionally save the compiled module."""
    from archspec.backends.text import summary

    if args.output and not args.output.endswith((".pt", ".pth", ".safetensors")):
        raise SpecError(f"-o: expected a .pt, .pth or .safetensors file name, got {args.output!r}")
    if args.output:
        check_target(args.output)
    spec = _load(args)
    report = spec.analyze()
    data = report.to_dict()
    notes = []
    if args.output or args.weights or args.freeze_until:
        model = _compile(spec, args)
        if args.freeze_until:
            data["frozen_params"] = sum(p.numel() for p in model.parameters() if not p.requires_grad)
            notes.append(f"froze stem .. {args.freeze_until}: {data['frozen_params']:,} of {report.params:,} "
                         f"parameters (their BatchNorm layers stay in eval mode)")
        if args.output and args.output.endswith(".safetensors"):
            from archspec.backends.checkpoint import save_weights

            write_atomically(args.output, lambda tmp: save_weights(model, spec, tmp))
            notes.append(f"saved the weights (safetensors, tagged with the spec's content hash) to {args.output}")
        elif args.output:
            write_atomically(args.output, lambda tmp: _save_module(model, tmp))
            notes.append(f"saved the whole module (torch.save; load with torch.load(..., weights_only=False)) "
                         f"to {args.output}")
    if args.json:
        print(json.dumps(data))
    else:
        print("\n\n".join([summary(report, layers=args.layers), *notes]))
    return 0


def _save_module(model: nn.Module, path: str) -> None:
    import torch

    with open(path, "wb") as file:  # a file object: a full disk is then an OSError, not torch's RuntimeError
        torch.save(model, file)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a spec's compiled module (with --weights, if given) to ONNX."""
    from archspec.backends.onnx_export import OPSET, export_onnx

    check_target(args.onnx)
    spec = _load(args)
    shape = spec.analyze().input_shape
    written = export_onnx(_compile(spec, args), shape, args.onnx, args.opset or OPSET)
    print(f"wrote {args.onnx}: ONNX opset {written}, input 'input' of shape [batch, {', '.join(map(str, shape))}]")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of spec files (or of block libraries), for YAML editors."""
    from archspec.spec.json_schema import schema_text

    print(schema_text(blocks=args.blocks), end="")
    return 0


def multipliers_from_args(spec: Spec, args: argparse.Namespace) -> tuple[Multipliers, float | None]:
    """The multipliers the flags ask for: --phi with the spec's (or given) coefficients, times any of
    --depth/--width/--resolution; --image-size sets the resolution absolutely. Each multiplier is at most
    MAX_MULTIPLIER, checked on logarithms before any exact power is taken."""
    base = spec.network.scaling or Scaling()
    phi = args.phi
    multipliers = Multipliers()
    if phi is not None:
        coefficients = base.model_copy(update={k: getattr(args, k) for k in ("alpha", "beta", "gamma")
                                               if getattr(args, k) is not None})
        for dimension, name in (("depth", "alpha"), ("width", "beta"), ("resolution", "gamma")):
            coefficient = getattr(coefficients, name)
            if not (math.isfinite(coefficient) and coefficient > 0):
                raise SpecError(f"{name} must be a finite number > 0, got {coefficient}")
            if phi * math.log(coefficient) > math.log(MAX_MULTIPLIER):
                raise SpecError(f"--phi {phi:g} makes the {dimension} multiplier {name}^phi = "
                                f"{coefficient:g}^{phi:g}, above {MAX_MULTIPLIER}")
        multipliers = Multipliers.compound(phi, coefficients)
    updates: dict[str, Any] = {}
    for flag in ("depth", "width", "resolution"):
        value = getattr(args, flag)
        if value is not None:
            updates[flag] = getattr(multipliers, flag) * exact(value)
            if updates[flag] > MAX_MULTIPLIER:
                raise SpecError(f"--{flag} {value:g} with --phi {phi:g} makes the {flag} multiplier "
                                f"{float(updates[flag]):.4g}, above {MAX_MULTIPLIER}")
    if args.image_size is not None:
        updates["image_size"] = check_image_size(args.image_size)
    return replace(multipliers, **updates), phi


def _scalable(spec: Spec) -> None:
    """Refuse a network whose MACs or params are zero: every ratio scaling reports is relative to them."""
    base = spec.analyze()
    if not (base.macs and base.params):
        raise spec.source.error((), f"cannot scale a network with {base.macs} MACs and {base.params} parameters: "
                                    "scaling is measured against them")


def cmd_scale(args: argparse.Namespace) -> int:
    """Scale a spec (compound or per dimension) and print the new spec and its analysis."""
    spec = load(args.spec, num_classes=args.num_classes, variables=parse_assignments(args.set))
    if args.output:
        check_target(args.output)
    _scalable(spec)
    if args.search:
        return run_search(spec, args)
    multipliers, phi = multipliers_from_args(spec, args)
    scaled, achieved = scale(spec, multipliers, name=args.name, divisor=args.divisor)
    report, base = scaled.analyze(), spec.analyze()
    source_dir = Path(spec.source.file).parent
    target_dir = Path(args.output).parent if args.output else source_dir
    text = dump_spec(scaled.network, spec.source.data, source_dir, target_dir)
    outcome = ScalingOutcome(multipliers, achieved, phi, base.macs, report.macs, base.params, report.params)
    if args.output:
        write_atomically(args.output, lambda tmp: Path(tmp).write_text(text))
    if args.json:
        data = {**report.to_dict(), "scaling": outcome.to_dict()}
        if not args.output:
            data["spec"] = text
        print(json.dumps(data))
    elif args.output:
        from archspec.backends.text import summary

        print(f"{outcome.describe()}\n\n{summary(report)}\n\nwrote {args.output}")
    else:
        print(text, end="")
        print(outcome.describe(), file=sys.stderr)
    return 0


def run_search(spec: Spec, args: argparse.Namespace) -> int:
    """The paper's step 1: candidates (alpha, beta, gamma) near the target, analysed at phi = 1, ranked."""
    from archspec.backends.text import search_table
    from archspec.transforms.search import grid, score_with_command

    candidates = grid(args.target, args.tolerance, args.step)
    base = spec.analyze()
    results = []
    for index, (alpha, beta, gamma) in enumerate(candidates, 1):
        print(f"\r[{index}/{len(candidates)}] alpha={alpha:.2f} beta={beta:.2f} gamma={gamma:.2f}",
              end="", file=sys.stderr, flush=True)
        multipliers = Multipliers(exact(alpha), exact(beta), exact(gamma))
        scaled, _ = scale(spec, multipliers, divisor=args.divisor)
        report = scaled.analyze()
        score = None
        if args.score:
            score = score_with_command(args.score, dump_spec(scaled.network, spec.source.data,
                                                             Path(spec.source.file).parent, None),
                                       Path(spec.source.file).parent)
        results.append({"alpha": alpha, "beta": beta, "gamma": gamma, "product": alpha * beta**2 * gamma**2,
                        "params": report.params, "macs": report.macs, "macs_ratio": report.macs / base.macs,
                        "score": score})
    print(file=sys.stderr)
    key = (lambda r: -(r["score"] if r["score"] is not None else float("-inf"))) if args.score \
        else (lambda r: abs(r["macs_ratio"] - args.target))
    results.sort(key=key)
    print(json.dumps(results[: args.top]) if args.json else search_table(results[: args.top], args.target))
    return 0


def default_library() -> Path:
    """``./specs`` when it exists, else the library next to the installed package."""
    local = Path("specs")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "specs"


def library_files(folder: Path) -> list[Path]:
    """The spec files of a folder, hidden files excluded."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("."))


def cmd_list(args: argparse.Namespace) -> int:
    """Analyse every spec of a folder and print one row each."""
    from archspec.backends.text import overview

    folder = Path(args.folder) if args.folder else default_library()
    paths = library_files(folder)
    if not paths:
        raise SpecError(f"no spec files in {str(folder)!r}")
    return _overview(args, [str(p) for p in paths], overview)


def cmd_compare(args: argparse.Namespace) -> int:
    """Print several specs' figures side by side."""
    from archspec.backends.text import side_by_side

    return _overview(args, args.specs, side_by_side)


def _entries(args: argparse.Namespace, paths: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Each spec's headline figures; a spec that fails is reported on stderr and counted."""
    from archspec.backends.text import entry

    entries, failed = [], 0
    for path in paths:
        try:
            spec = _load(args, path)
            entries.append(entry(spec.network, spec.analyze()))
        except ArchspecError as exc:
            failed += 1
            print(printable(str(exc)), file=sys.stderr)
    return entries, failed


def _overview(args: argparse.Namespace, paths: list[str], render: Callable[..., str]) -> int:
    entries, failed = _entries(args, paths)
    key = getattr(args, "sort", None) or "name"
    entries.sort(key=lambda e: (e[key] is None, e[key] if key == "name" else -(e[key] or 0)))
    print(json.dumps(entries) if args.json else render(entries))
    return EXIT_USAGE if failed else 0


def _extension(path: str, formats: tuple[str, ...]) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in formats:
        raise SpecError(f"-o: expected a file name ending in {', '.join('.' + f for f in formats)}, got {path!r}")
    return fmt


def cmd_draw(args: argparse.Namespace) -> int:
    """Render a spec's diagram with Graphviz's dot (or write its DOT source)."""
    from archspec.backends.diagram import FORMATS, diagram, render

    fmt = _extension(args.output, FORMATS)
    check_target(args.output)
    data = render(diagram(_load(args), args.level, args.expand, args.edge_shapes), fmt)
    write_atomically(args.output, lambda tmp: Path(tmp).write_bytes(data))
    print(f"wrote {args.output}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    """Print a spec as the paper's table, with computed columns."""
    from archspec.backends.table import table

    print(table(_load(args), args.format), end="")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Chart reported top-1 against MACs and params for several specs."""
    from archspec.backends.plot import FORMATS, accuracy_chart

    fmt = _extension(args.output, FORMATS)
    check_target(args.output)
    entries, failed = _entries(args, args.specs)
    chart = accuracy_chart(entries, fmt)
    write_atomically(args.output, lambda tmp: Path(tmp).write_bytes(chart.data))
    print(f"wrote {args.output}: {len(chart.plotted)} networks")
    if chart.skipped:
        reasons = ", ".join(f"{name} ({why})" for name, why in sorted(chart.skipped.items()))
        print(f"not plotted: {reasons}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def cmd_gallery(args: argparse.Namespace) -> int:
    """Write the block-level diagram of every spec of the library and a page listing them."""
    from archspec.backends.diagram import diagram, render
    from archspec.backends.gallery import GalleryItem, gallery_page
    from archspec.backends.text import entry

    folder = Path(args.folder) if args.folder else default_library()
    paths = library_files(folder)
    if not paths:
        raise SpecError(f"no spec files in {str(folder)!r}")
    out = Path(args.output_dir)
    images = out / "gallery"
    check_target(out / "gallery.md")
    try:
        images.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the folder {str(images)!r}: {exc.strerror}") from None
    items, failed = [], 0
    for path in paths:
        try:
            spec = load(path)
            data = render(diagram(spec, "block"), "svg")
            report = spec.analyze()
        except ArchspecError as exc:
            failed += 1
            print(printable(str(exc)), file=sys.stderr)
            continue
        write_atomically(str(images / f"{path.stem}.svg"), lambda tmp, data=data: Path(tmp).write_bytes(data))
        items.append(GalleryItem(entry(spec.network, report), spec.network.description,
                                 f"gallery/{path.stem}.svg"))
    for stale in set(images.glob("*.svg")) - {images / f"{p.stem}.svg" for p in paths}:
        stale.unlink()
    page = gallery_page(items)
    write_atomically(str(out / "gallery.md"), lambda tmp: Path(tmp).write_text(page))
    print(f"wrote {len(items)} diagrams to {images}/ and the page {out / 'gallery.md'}")
    return EXIT_USAGE if failed else 0


def _module_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", metavar="FILE.safetensors",
                        help="load these weights (saved for this spec) into the compiled module")
    parser.add_argument("--memory-limit", type=size("--memory-limit"), metavar="SIZE",
                        help="refuse networks whose weights or activations exceed this (e.g. 8G; default "
                             "ARCHSPEC_MEMORY_LIMIT or 8G)")


def cmd_docs(args: argparse.Namespace) -> int:
    """Regenerate the documentation's generated files, or check that they are up to date."""
    from archspec.docs import run

    out = Path(args.output_dir)
    if not out.is_dir():
        raise SpecError(f"output folder {str(out)!r} does not exist")
    return run(Path(args.folder) if args.folder else default_library(), out, check=args.check)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="archspec", description="Validate, analyse and compile architecture specs.")
    parser.add_argument("--version", action="version", version="archspec 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _spec_options()
    build = sub.add_parser("build", parents=[common], help="analyse a spec and print its summary")
    build.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    build.add_argument("--layers", action="store_true", help="one row per layer instead of per stage")
    build.add_argument("-o", "--output", metavar="FILE.{pt,safetensors}",
                       help="save the compiled module: .pt the whole module, .safetensors its weights")
    _module_options(build)
    build.add_argument("--freeze-until", metavar="STAGE",
                       help="freeze every stage up to and including STAGE (stem is the first)")
    build.set_defaults(run=cmd_build)

    export = sub.add_parser("export", parents=[common], help="export the compiled module to ONNX")
    export.add_argument("--onnx", required=True, metavar="FILE.onnx", help="write the ONNX model here")
    export.add_argument("--opset", type=integer("--opset", MIN_OPSET, MAX_OPSET),
                        help="ONNX opset version, 18 to 23 (default: 18, the one archspec is tested with)")
    _module_options(export)
    export.set_defaults(run=cmd_export)

    schema = sub.add_parser("schema", help="print the JSON Schema of spec files, for YAML editors")
    schema.add_argument("--blocks", action="store_true", help="the schema of block library files instead")
    schema.set_defaults(run=cmd_schema)

    scale = sub.add_parser("scale", help="scale a spec: compound (--phi) or per dimension; writes a new spec")
    scale.add_argument("spec", help="spec file (YAML)")
    scale.add_argument("--num-classes", type=integer("--num-classes", 1, MAX_CLASSES), metavar="N",
                       help="override the number of classes")
    scale.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a variable")
    scale.add_argument("--phi", type=number("--phi", -MAX_MULTIPLIER, MAX_MULTIPLIER),
                       help="compound coefficient, -100 to 100: depth alpha^phi, width beta^phi, resolution "
                            "gamma^phi (each at most 100)")
    for name, what in (("alpha", "depth"), ("beta", "width"), ("gamma", "resolution")):
        scale.add_argument(f"--{name}", type=number(f"--{name}", 0, MAX_MULTIPLIER, low_open=True),
                           help=f"{what} coefficient for --phi, up to 100 (default: the spec's)")
    for name, what in (("depth", "depth multiplier (stage repeats)"), ("width", "width multiplier (channels)"),
                       ("resolution", "resolution multiplier")):
        scale.add_argument(f"--{name}", type=number(f"--{name}", 0, MAX_MULTIPLIER, low_open=True),
                           metavar=name[0].upper(), help=f"{what}, up to 100")
    scale.add_argument("--image-size", type=integer("--image-size", 1, MAX_PIXELS), metavar="PX",
                       help="set the scaled input resolution")
    scale.add_argument("--divisor", type=integer("--divisor", 1, MAX_DIVISOR),
                       help="round channels to a multiple of this, up to 1024 (default: the spec's, 8)")
    scale.add_argument("--name", type=network_name, help="name of the scaled network (default: <name>_scaled)")
    scale.add_argument("-o", "--output", metavar="FILE.yaml", help="write the scaled spec here (else stdout)")
    scale.add_argument("--json", action="store_true", help="print the analysis as JSON")
    scale.add_argument("--search", action="store_true", help="grid-search alpha, beta, gamma (paper's step 1)")
    scale.add_argument("--target", type=number("--target", 0, MAX_MULTIPLIER, low_open=True), default=2.0,
                       help="--search: target of alpha*beta^2*gamma^2")
    scale.add_argument("--tolerance", type=number("--tolerance", 0, MAX_MULTIPLIER), default=0.1,
                       help="--search: allowed distance from the target")
    scale.add_argument("--step", type=number("--step", 0, 1, low_open=True), default=0.05,
                       help="--search: grid step, 0.01 or more")
    scale.add_argument("--score", metavar="CMD", help="--search: command run on each candidate spec file "
                                                      "({} is replaced by its path, else appended); ranks by "
                                                      "the last number it prints, highest first")
    scale.add_argument("--top", type=integer("--top", 1, 10**6), default=20, help="--search: rows to print")
    scale.set_defaults(run=cmd_scale)

    listing = _override_options(sub.add_parser("list", help="every spec of the library with its figures"))
    listing.add_argument("folder", nargs="?", help="folder of specs (default: ./specs or the installed library)")
    listing.add_argument("--sort", choices=SORT_KEYS, default="name", help="sort by (largest first)")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=cmd_list)

    compare = _override_options(sub.add_parser("compare", help="several specs side by side"))
    compare.add_argument("specs", nargs="+", help="spec files")
    compare.add_argument("--json", action="store_true", help="print a JSON list")
    compare.set_defaults(run=cmd_compare)

    draw = sub.add_parser("draw", parents=[common], help="render a diagram of a spec with Graphviz")
    draw.add_argument("-o", "--output", required=True, metavar="FILE.{svg,png,pdf,dot}", help="output file")
    draw.add_argument("--level", choices=("stage", "block", "layer"), default="block",
                      help="one node per stage, per block (default) or per layer")
    draw.add_argument("--expand", action="store_true", help="draw every repeat instead of collapsing them (xN)")
    draw.add_argument("--edge-shapes", action="store_true", help="label edges with the tensor shapes they carry")
    draw.set_defaults(run=cmd_draw)

    paper = sub.add_parser("table", parents=[common], help="print a spec as the paper's table")
    paper.add_argument("--format", choices=("markdown", "html", "csv"), default="markdown", help="output format")
    paper.set_defaults(run=cmd_table)

    plot = _override_options(sub.add_parser("plot", help="chart reported top-1 against MACs and params"))
    plot.add_argument("specs", nargs="+", help="spec files")
    plot.add_argument("-o", "--output", required=True, metavar="FILE.{png,svg,pdf}", help="output file")
    plot.set_defaults(run=cmd_plot)

    gallery = sub.add_parser("gallery", help="block-level diagrams of the whole library, for docs/")
    gallery.add_argument("folder", nargs="?", help="folder of specs (default: ./specs or the installed library)")
    gallery.add_argument("--output-dir", default="docs", metavar="DIR",
                         help="writes DIR/gallery/<name>.svg and DIR/gallery.md (default: docs)")
    gallery.set_defaults(run=cmd_gallery)

    docs = sub.add_parser("docs", help="regenerate the documentation's generated pages (references, library)")
    docs.add_argument("folder", nargs="?", help="folder of specs (default: ./specs or the installed library)")
    docs.add_argument("--output-dir", default="docs", metavar="DIR",
                      help="the documentation folder: writes DIR/reference, DIR/library, ... (default: docs)")
    docs.add_argument("--check", action="store_true",
                      help="write nothing; list the generated files that differ and exit 2 if any")
    docs.set_defaults(run=cmd_docs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archspec`` command."""
    try:
        args = make_parser().parse_args(argv)
        return args.run(args)
    except ArchspecError as exc:
        print(printable(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
