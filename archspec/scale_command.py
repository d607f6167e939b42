"""The ``scale`` command: flags -> bounded multipliers -> the scaled spec, or the search for coefficients."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from archspec.analysis.report import Report
from archspec.api import MAX_CLASSES, MAX_PIXELS, Spec, check_image_size, load
from archspec.errors import SpecError
from archspec.flags import integer, network_name, number, parse_assignments
from archspec.outputs import check_target, write_atomically
from archspec.progress import terminal_progress
from archspec.spec.dump import dump_spec
from archspec.spec.schema import Scaling
from archspec.transforms.scaling import Multipliers, ScalingOutcome, exact, scale

MAX_MULTIPLIER = 100  # per dimension: keeps the scaled network within the schema's repeats and resolutions
MAX_DIVISOR = 1024


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


def _variant(spec: Spec, args: argparse.Namespace) -> tuple[Spec, Multipliers, str | None]:
    """--variant NAME: the spec with the variant's variables, its multipliers and its name (--name wins); it takes
    no other scaling flag, since the table gives all three dimensions."""
    variants = spec.network.scaling.variants if spec.network.scaling else {}
    if args.variant not in variants:
        known = ", ".join(variants) or "none: its scaling: section has no variants"
        raise SpecError(f"--variant: {spec.name} has no variant {args.variant!r} (variants: {known})")
    given = [f"--{flag.replace('_', '-')}" for flag in ("phi", "alpha", "beta", "gamma", "depth", "width",
                                                        "resolution", "image_size") if getattr(args, flag) is not None]
    if given:
        raise SpecError(f"--variant {args.variant} sets depth, width and resolution from the spec's table; it takes "
                        f"no {given[0]}")
    variant = variants[args.variant]
    multipliers = Multipliers(exact(variant.depth), exact(variant.width), image_size=variant.image_size)
    return spec.with_overrides(variables=dict(variant.variables)), multipliers, args.name or variant.name


def borrowed_coefficients(spec: Spec, args: argparse.Namespace) -> str:
    """``alpha 1.2, ...``: the coefficients --phi takes from EfficientNet's defaults because neither the spec's
    ``scaling:`` nor a flag gives them; empty when none is."""
    if args.phi is None:
        return ""
    stated = spec.network.scaling.model_fields_set if spec.network.scaling else set()
    defaults = Scaling()
    return ", ".join(f"{name} {getattr(defaults, name):g}" for name in ("alpha", "beta", "gamma")
                     if name not in stated and getattr(args, name) is None)


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
    name = args.name
    if args.variant is not None:
        spec, multipliers, name = _variant(spec, args)
        phi = None
    else:
        multipliers, phi = multipliers_from_args(spec, args)
    assumed = borrowed_coefficients(spec, args)
    if assumed:
        print(f"note: {spec.name} states no compound coefficients (no scaling: {{alpha, beta, gamma}}), so --phi "
              f"uses EfficientNet's {assumed}; give --alpha, --beta and --gamma to choose", file=sys.stderr)
    scaled, achieved = scale(spec, multipliers, name=name, divisor=args.divisor, phi=phi)
    report, base = scaled.analyze(), spec.analyze()
    source_dir = Path(spec.source.file).parent
    if args.output:
        text = dump_spec(scaled.network, spec.source.data, source_dir, Path(args.output).parent)
    else:
        text = _printed_spec(scaled, spec, source_dir)
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


def _printed_spec(scaled: Spec, spec: Spec, source_dir: Path) -> str:
    """The scaled spec as printed: most often redirected into the working folder (``scale ... > b1.yaml``), so its
    imports are written to resolve from there, or, where they cannot, as the original wrote them (with a note)."""
    try:
        return dump_spec(scaled.network, spec.source.data, source_dir, Path.cwd())
    except SpecError as exc:
        print(f"note: {exc.message}; the imports are written as in {spec.source.file}, which they resolve from",
              file=sys.stderr)
        return dump_spec(scaled.network, spec.source.data, source_dir, source_dir)


def run_search(spec: Spec, args: argparse.Namespace) -> int:
    """The paper's step 1: candidates (alpha, beta, gamma) near the target, analysed at phi = 1, ranked; candidates
    that round to the same network are listed once (the first of them), and scored once."""
    from archspec.backends.text import search_table
    from archspec.transforms.search import grid

    candidates = grid(args.target, args.tolerance, args.step)
    base = spec.analyze()
    results: dict[int, dict[str, Any]] = {}  # by the scaled network's structure
    progress = terminal_progress(spec.name)
    try:
        for index, (alpha, beta, gamma) in enumerate(candidates, 1):
            if progress is not None:
                progress(f"[{index}/{len(candidates)}] alpha={alpha:.2f} beta={beta:.2f} gamma={gamma:.2f}")
            scaled, _ = scale(spec, Multipliers(exact(alpha), exact(beta), exact(gamma)), divisor=args.divisor)
            report = scaled.analyze()
            same = results.get(key := _structure(report))
            if same is not None:
                same["same_network"].append([alpha, beta, gamma])
                continue
            results[key] = {
                "alpha": alpha, "beta": beta, "gamma": gamma, "product": alpha * beta**2 * gamma**2,
                "params": report.params, "macs": report.macs, "macs_ratio": report.macs / base.macs,
                "score": _score(spec, scaled, args.score), "same_network": []}
    finally:
        if progress is not None:
            progress.clear()  # before any error or the table
    ranked = sorted(results.values(), key=(lambda r: -r["score"]) if args.score
                    else (lambda r: abs(r["macs_ratio"] - args.target)))
    if args.json:
        print(json.dumps(ranked[: args.top]))
        return 0
    repeats = len(candidates) - len(ranked)
    order = ("by the --score command's number, highest first" if args.score else
             f"by how close the MACs ratio is to the target {args.target:g} alone (give --score CMD to rank by "
             f"a measured figure, such as accuracy after a short training)")
    print(f"{len(candidates)} candidates, {len(ranked)} different networks"
          + (f" ({repeats} round to a network listed before them)" if repeats else "") + f"; ranked {order}")
    print(search_table(ranked[: args.top], args.target))
    return 0


def _structure(report: Report) -> int:
    """A fingerprint of the network a candidate scales to: its layers, their shapes and costs (two multipliers
    that round to the same repeats, channels and resolution give the same one)."""
    return hash(tuple((node.name, node.kind, node.shape, node.cost) for node in report.graph))


def _score(spec: Spec, scaled: Spec, command: str | None) -> float | None:
    """The --score command's number for a candidate, or None without one."""
    from archspec.transforms.search import score_with_command

    if not command:
        return None
    folder = Path(spec.source.file).parent
    return score_with_command(command, dump_spec(scaled.network, spec.source.data, folder, None), folder)


def add_scale_command(sub: Any) -> None:
    """Add ``scale`` and its flags to the subcommands ``sub``."""
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
    scale.add_argument("--variant", metavar="NAME",
                       help="a released scaled network from the spec's scaling: variants table (EfficientNet-B0: b1 "
                            "to b7, which are that table, not alpha^phi, beta^phi, gamma^phi)")
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
