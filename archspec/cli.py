"""Command line: parse arguments, call the API, print. Every ArchspecError is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from archspec.api import Spec, load
from archspec.errors import ArchspecError, SpecError

EXIT_USAGE = 2
SORT_KEYS = ("name", "params", "macs", "receptive_field", "top1")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(f"{self.prog}: {message}")


def _override_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--num-classes", type=int, metavar="N", help="override the number of classes")
    parser.add_argument("--image-size", type=int, metavar="PX", help="override the input resolution")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a spec variable (repeatable), e.g. --set width_mult=0.5")
    return parser


def _spec_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("spec", help="spec file (YAML)")
    return _override_options(common)


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=relu"]`` -> ``{"a": 1, "b": "relu"}``; values are read as YAML scalars."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SpecError(f"--set expects NAME=VALUE, got {pair!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise SpecError(f"--set {name}: cannot read value {text!r}") from None
        if isinstance(value, dict) or value is None:
            raise SpecError(f"--set {name}: expected a number, string, boolean or list, got {text!r}")
        values[name.strip()] = value
    return values


def _load(args: argparse.Namespace, path: str | None = None) -> Spec:
    return load(path or args.spec, num_classes=args.num_classes, image_size=args.image_size,
                variables=parse_assignments(args.set))


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same folder, so a failure leaves nothing half-written."""
    target = Path(path)
    if not target.parent.exists():
        raise SpecError(f"output folder {str(target.parent)!r} does not exist")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def cmd_build(args: argparse.Namespace) -> int:
    """Analyse a spec, print its summary (or JSON), optionally save the compiled module."""
    from archspec.backends.text import summary

    spec = _load(args)
    report = spec.analyze()
    if args.output:
        if not args.output.endswith((".pt", ".pth")):
            raise SpecError(f"-o: expected a .pt or .pth file name, got {args.output!r}")
        import torch

        model = spec.build()
        write_atomically(args.output, lambda tmp: torch.save(model, tmp))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(summary(report, layers=args.layers))
        if args.output:
            print(f"\nsaved the whole module (torch.save; load with torch.load(..., weights_only=False)) "
                  f"to {args.output}")
    return 0


def default_library() -> Path:
    """``./specs`` when it exists, else the library next to the installed package."""
    local = Path("specs")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "specs"


def cmd_list(args: argparse.Namespace) -> int:
    """Analyse every spec of a folder and print one row each."""
    from archspec.backends.text import overview

    folder = Path(args.folder) if args.folder else default_library()
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise SpecError(f"no spec files in {str(folder)!r}")
    return _overview(args, [str(p) for p in paths], overview)


def cmd_compare(args: argparse.Namespace) -> int:
    """Print several specs' figures side by side."""
    from archspec.backends.text import side_by_side

    return _overview(args, args.specs, side_by_side)


def _overview(args: argparse.Namespace, paths: list[str], render: Callable[..., str]) -> int:
    from archspec.backends.text import entry

    entries, failed = [], 0
    for path in paths:
        try:
            spec = _load(args, path)
            entries.append(entry(spec.network, spec.analyze()))
        except ArchspecError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
    key = getattr(args, "sort", None) or "name"
    entries.sort(key=lambda e: (e[key] is None, e[key] if key == "name" else -(e[key] or 0)))
    print(json.dumps(entries) if args.json else render(entries))
    return EXIT_USAGE if failed else 0


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="archspec", description="Validate, analyse and compile architecture specs.")
    parser.add_argument("--version", action="version", version="archspec 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _spec_options()
    build = sub.add_parser("build", parents=[common], help="analyse a spec and print its summary")
    build.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    build.add_argument("--layers", action="store_true", help="one row per layer instead of per stage")
    build.add_argument("-o", "--output", metavar="FILE.pt", help="save the compiled module (whole module)")
    build.set_defaults(run=cmd_build)

    listing = _override_options(sub.add_parser("list", help="every spec of the library with its figures"))
    listing.add_argument("folder", nargs="?", help="folder of specs (default: ./specs or the installed library)")
    listing.add_argument("--sort", choices=SORT_KEYS, default="name", help="sort by (largest first)")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=cmd_list)

    compare = _override_options(sub.add_parser("compare", help="several specs side by side"))
    compare.add_argument("specs", nargs="+", help="spec files")
    compare.add_argument("--json", action="store_true", help="print a JSON list")
    compare.set_defaults(run=cmd_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archspec`` command."""
    try:
        args = make_parser().parse_args(argv)
        return args.run(args)
    except ArchspecError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
