"""Command line: parse arguments, call the API, print. Every ArchspecError is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from archspec.api import MAX_CLASSES, MAX_PIXELS, Spec, load
from archspec.backends.diagram import DIRECTIONS, MAX_DPI, MIN_DPI
from archspec.backends.onnx_export import MAX_OPSET, MIN_OPSET
from archspec.backends.summary import COLUMNS, DTYPE_BYTES, MAX_DEPTH
from archspec.errors import EXIT_USAGE, ArchspecError, SpecError, printable
from archspec.flags import integer, parse_assignments, size
from archspec.library import default_library, library_files
from archspec.outputs import check_target, ensure_folder, write_atomically
from archspec.progress import terminal_progress
from archspec.scale_command import add_scale_command

if TYPE_CHECKING:
    from torch import nn

SORT_KEYS = ("name", "params", "macs", "receptive_field", "top1")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are SpecErrors (one line, exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(f"{self.prog}: {message}")


Options = TypeVar("Options", bound=argparse.ArgumentParser)


def _override_options(parser: Options) -> Options:
    parser.add_argument("--num-classes", type=integer("--num-classes", 1, MAX_CLASSES), metavar="N",
                        help="override the number of classes")
    parser.add_argument("--image-size", type=integer("--image-size", 1, MAX_PIXELS), metavar="PX",
                        help="override the input resolution")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a spec variable (repeatable), e.g. --set width_mult=0.5")
    return parser


def _spec_options() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("spec", help="spec file (YAML), or the name of a library network (resnet50)")
    common.add_argument("--head", metavar="FILE.yaml",
                        help="replace the spec's head (transfer learning) with the one in FILE: 'head: [items]'")
    return _override_options(common)


def _load(args: argparse.Namespace, path: str | None = None) -> Spec:
    spec = load(path or args.spec, num_classes=args.num_classes, image_size=args.image_size,
                variables=parse_assignments(args.set))
    head = getattr(args, "head", None)  # only the single-spec commands take --head
    return spec.with_head(head) if head is not None else spec


def _compile(spec: Spec, args: argparse.Namespace) -> nn.Module:
    """The compiled module, frozen up to --freeze-until and holding the --weights, when given."""
    model = spec.build(memory_limit=args.memory_limit, freeze_until=getattr(args, "freeze_until", None))
    if args.weights is not None:
        from archspec.backends.checkpoint import load_weights

        load_weights(model, args.weights)
    return model


def cmd_build(args: argparse.Namespace) -> int:
    """Analyse a spec, print its summary (or JSON), optionally save the compiled module."""
    from archspec.backends.summary import make_summary
    from archspec.backends.text import summary

    if args.output and not args.output.endswith((".pt", ".pth", ".safetensors")):
        raise SpecError(f"-o: expected a .pt, .pth or .safetensors file name, got {args.output!r}")
    if args.output:
        check_target(args.output)
    spec = _load(args)
    report = spec.analyze()
    per_layer = args.layers or args.depth is not None or args.columns is not None
    # made only when shown: the per-stage table does without (a 70,000-node spec's rows cost seconds)
    layers = make_summary(report, args.depth, args.columns, args.dtype) if per_layer or args.json or args.csv \
        else None
    data = report.to_dict()
    # JSON and CSV: one row per layer, or the table's rows when a --depth cuts it
    machine = layers if layers is None or args.depth is not None else layers.leaves()
    if machine is not None:
        data["layers"] = [row.to_dict() for row in machine.rows]
    notes = []
    if args.output or args.weights is not None or args.freeze_until is not None:
        model = _compile(spec, args)
        if args.freeze_until is not None:
            data["frozen_params"] = sum(p.numel() for p in model.parameters() if not p.requires_grad)
            notes.append(f"froze stem .. {args.freeze_until}: {data['frozen_params']:,} of {report.params:,} "
                         f"parameters (their BatchNorm layers stay in eval mode)")
        if args.output and args.output.endswith(".safetensors"):
            from archspec.backends.checkpoint import save_weights

            write_atomically(args.output, lambda tmp: save_weights(model, tmp))
            notes.append(f"saved the weights (safetensors, tagged with the spec's content hash) to {args.output}")
        elif args.output:
            from archspec.backends.checkpoint import save_module

            write_atomically(args.output, lambda tmp: save_module(model, tmp))
            notes.append(f"saved the whole module (torch.save; load with torch.load(..., weights_only=False)) "
                         f"to {args.output}")
    if args.json:
        print(json.dumps(data))
    elif args.csv and machine is not None:
        print(machine.to_csv(), end="")
    else:
        print("\n\n".join([str(layers) if layers is not None else summary(report), *notes]))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export a spec's compiled module (with --weights, if given) to ONNX."""
    from archspec.backends.onnx_export import OPSET, export_onnx

    check_target(args.onnx)
    spec = _load(args)
    shape = spec.analyze().input_shape
    progress = terminal_progress(spec.name)
    try:
        written = export_onnx(_compile(spec, args), shape, args.onnx, args.opset or OPSET, args.optimize,
                              progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    print(f"wrote {args.onnx}: ONNX opset {written}, input 'input' of shape [batch, {', '.join(map(str, shape))}], "
          f"output 'logits'")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of spec files (or of block libraries), for YAML editors."""
    from archspec.spec.json_schema import schema_text

    print(schema_text("blocks" if args.blocks else "variant" if args.variant else "network"), end="")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Analyse every spec of a folder and print one row each."""
    from archspec.backends.text import overview

    return _overview(args, [str(p) for p in _library_paths(args)], overview)


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
            entries.append(entry(spec.analyze()))
        except ArchspecError as exc:
            failed += 1
            print(printable(str(exc)), file=sys.stderr)
    return entries, failed


def _overview(args: argparse.Namespace, paths: list[str], render: Callable[..., str]) -> int:
    entries, failed = _entries(args, paths)
    key = getattr(args, "sort", None) or "name"
    entries.sort(key=lambda e: (e[key] is None, e[key] if key == "name" else -(e[key] or 0)))
    if key == "receptive_field":  # a global field is larger than any local one
        entries.sort(key=lambda e: not e["rf_global"])
    if key == "top1":  # accuracies on different datasets do not compare: ImageNet-1k's first, then each other's
        entries.sort(key=lambda e: (e["dataset"] is None, e["dataset"] != "ImageNet-1k", e["dataset"] or ""))
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
    if args.dpi is not None and fmt != "png":
        raise SpecError(f"--dpi is for .png files (svg and pdf are drawn at any size), not .{fmt}")
    data = render(diagram(_load(args).graph, args.level, args.expand, args.edge_shapes, args.direction), fmt,
                  dpi=args.dpi)
    write_atomically(args.output, lambda tmp: Path(tmp).write_bytes(data))
    print(f"wrote {args.output}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    """Print a spec as the paper's table, with computed columns."""
    from archspec.backends.table import table

    print(table(_load(args).graph, args.format), end="")
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
    from archspec.backends.gallery import gallery_item, write_gallery

    paths = _library_paths(args)
    out = ensure_folder(args.output_dir)
    check_target(out / "gallery.md")
    made, failed = {}, 0
    for path in paths:
        try:
            made[path.stem] = gallery_item(load(path).graph, path.stem)
        except ArchspecError as exc:
            failed += 1
            print(printable(str(exc)), file=sys.stderr)
    images = write_gallery(out, made, keep={path.stem for path in paths})
    print(f"wrote {len(made)} diagrams to {images}/ and the page {out / 'gallery.md'}")
    return EXIT_USAGE if failed else 0


def _library_paths(args: argparse.Namespace) -> list[Path]:
    """The spec files of ``args.folder`` (default: the library); none is an error."""
    folder = Path(args.folder) if args.folder else default_library()
    paths = library_files(folder)
    if not paths:
        raise SpecError(f"no spec files in {str(folder)!r}")
    return paths


def _module_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", metavar="FILE.safetensors",
                        help="load these weights (saved for this spec) into the compiled module")
    parser.add_argument("--memory-limit", type=size("--memory-limit"), metavar="SIZE",
                        help="refuse networks whose weights or activations exceed this (e.g. 8G; default "
                             "ARCHSPEC_MEMORY_LIMIT or 8G)")


def cmd_docs(args: argparse.Namespace) -> int:
    """Regenerate the documentation's generated files, or check that they are up to date."""
    from archspec.docs import run

    out = ensure_folder(args.output_dir)
    return run(Path(args.folder) if args.folder else default_library(), out, parser=make_parser(), check=args.check)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="archspec", description="Validate, analyse and compile architecture specs.")
    parser.add_argument("--version", action="version", version="archspec 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _spec_options()
    build = sub.add_parser("build", parents=[common], help="analyse a spec and print its summary")
    output = build.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the table (its layers as --csv's rows)")
    output.add_argument("--csv", action="store_true",
                        help="print the layer rows as CSV: one per layer, or the table's with --depth")
    build.add_argument("--layers", action="store_true",
                       help="the layer summary (stage, block, layer, indented) instead of one row per stage")
    build.add_argument("--depth", type=integer("--depth", 1, MAX_DEPTH), metavar="N",
                       help="the layer summary down to depth N (1: stages and the head's layers)")
    build.add_argument("--columns", metavar="LIST",
                       help=f"the layer summary's columns, comma-separated (default all: {','.join(COLUMNS)})")
    build.add_argument("--dtype", default="float32", choices=list(DTYPE_BYTES),
                       help="the number type that weight and activation sizes are given for (default float32)")
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
    export.add_argument("--optimize", action="store_true",
                        help="run onnxscript's graph optimizer before writing (a smaller graph, a slower export; "
                             "onnxruntime optimises the graph itself when it loads it)")
    _module_options(export)
    export.set_defaults(run=cmd_export)

    schema = sub.add_parser("schema", help="print the JSON Schema of spec files, for YAML editors")
    kind = schema.add_mutually_exclusive_group()
    kind.add_argument("--blocks", action="store_true", help="the schema of block library files instead")
    kind.add_argument("--variant", action="store_true", help="the schema of variant files (with extends) instead")
    schema.set_defaults(run=cmd_schema)

    add_scale_command(sub)

    listing = _override_options(sub.add_parser("list", help="every spec of the library with its figures"))
    listing.add_argument("folder", nargs="?", help="folder of specs (default: ./specs or the installed library)")
    listing.add_argument("--sort", choices=SORT_KEYS, default="name",
                         help="sort by (largest first; top1 within each dataset, ImageNet-1k first)")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=cmd_list)

    compare = _override_options(sub.add_parser("compare", help="several specs side by side"))
    compare.add_argument("specs", nargs="+", help="spec files or library network names")
    compare.add_argument("--json", action="store_true", help="print a JSON list")
    compare.set_defaults(run=cmd_compare)

    draw = sub.add_parser("draw", parents=[common], help="render a diagram of a spec with Graphviz")
    draw.add_argument("-o", "--output", required=True, metavar="FILE.{svg,png,pdf,dot}", help="output file")
    draw.add_argument("--level", choices=("stage", "block", "layer"), default="block",
                      help="one node per stage, per block (default) or per layer")
    draw.add_argument("--expand", action="store_true", help="draw every repeat instead of collapsing them (xN)")
    draw.add_argument("--edge-shapes", action="store_true", help="label edges with the tensor shapes they carry")
    draw.add_argument("--direction", choices=DIRECTIONS, default="TB",
                      help="layout: TB top to bottom (default), LR left to right (a deep network as a wide picture), "
                           "BT, RL")
    draw.add_argument("--dpi", type=integer("--dpi", MIN_DPI, MAX_DPI), metavar="N",
                      help=f"resolution of a .png, {MIN_DPI} to {MAX_DPI} (default 96)")
    draw.set_defaults(run=cmd_draw)

    paper = sub.add_parser("table", parents=[common], help="print a spec as the paper's table")
    paper.add_argument("--format", choices=("markdown", "html", "csv"), default="markdown", help="output format")
    paper.set_defaults(run=cmd_table)

    plot = _override_options(sub.add_parser("plot", help="chart reported top-1 against MACs and params"))
    plot.add_argument("specs", nargs="+", help="spec files or library network names")
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
