"""Command line: parse arguments, call the API, print. Every ArchspecError is one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from archspec.api import Spec, load
from archspec.errors import ArchspecError, SpecError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(f"{self.prog}: {message}")


def _spec_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("spec", help="spec file (YAML)")
    common.add_argument("--num-classes", type=int, metavar="N", help="override the number of classes")
    common.add_argument("--image-size", type=int, metavar="PX", help="override the input resolution")
    return common


def _load(args: argparse.Namespace) -> Spec:
    return load(args.spec, num_classes=args.num_classes, image_size=args.image_size)


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
