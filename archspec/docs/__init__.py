"""The documentation's generated files: the references (spec language, command line, Python API, modules), one
page per library network, and the diagrams of the pipeline and of the tutorial's network.

``archspec docs`` writes them under ``docs/`` and ``archspec docs --check`` lists those that drifted. The command
line's reference is made from the parser the caller passes, so that this package never imports ``archspec.cli``.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from archspec.api import load
from archspec.docs import architecture, cli_reference, library_pages, python_reference, spec_reference, tutorial
from archspec.errors import EXIT_USAGE
from archspec.library import library_files
from archspec.outputs import write_atomically

GENERATED_DIRS = ("reference", "library", "tutorial")  # every file in these folders is generated


def generate(library: Path, docs: Path, parser: argparse.ArgumentParser) -> dict[str, bytes]:
    """Every generated file by path relative to ``docs`` (which holds the tutorial); ``parser`` is the CLI's."""
    networks = []
    for path in library_files(library):
        spec = load(path)
        networks.append(library_pages.Network(path, spec, spec.analyze()))
    pages = {
        "reference/spec-language.md": spec_reference.spec_reference(),
        "reference/cli.md": cli_reference.cli_reference(parser),
        "reference/python.md": python_reference.python_reference(),
        "reference/modules.md": architecture.module_map(),
        "library/index.md": library_pages.library_index(networks),
        **{f"library/{net.name}.md": library_pages.library_page(net, library, networks)
           for net in networks},
    }
    return {**{path: text.encode() for path, text in pages.items()},
            "architecture.svg": architecture.architecture_diagram(), **tutorial.tutorial_diagrams(docs / "tutorial.md")}


def differences(files: dict[str, bytes], docs: Path) -> list[str]:
    """Generated files missing from ``docs`` or different there, then stale files in the generated folders."""
    changed = [path for path, data in sorted(files.items())
               if not (docs / path).is_file() or (docs / path).read_bytes() != data]
    stale = sorted(path.relative_to(docs).as_posix() for folder in GENERATED_DIRS
                   for path in (docs / folder).rglob("*") if path.is_file())
    return changed + [path for path in stale if path not in files]


def run(library: Path, docs: Path, parser: argparse.ArgumentParser, check: bool = False) -> int:
    """Write the generated files under ``docs`` (removing stale ones), or with ``check`` only list the drift."""
    files = generate(library, docs, parser)
    drift = differences(files, docs)
    if check:
        for path in drift:
            print(f"{docs / path}: {'stale' if path not in files else 'differs from what archspec docs makes'}",
                  file=sys.stderr)
        if drift:
            print("run `make docs` (or `archspec docs`) and commit the result", file=sys.stderr)
            return EXIT_USAGE
        print(f"the {len(files)} generated files under {docs}/ are up to date")
        return 0
    for path in drift:
        target = docs / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(str(target), partial(_write_bytes, data=files[path]))
        else:
            target.unlink()
    print(f"{len(drift)} of the {len(files)} generated files under {docs}/ changed")
    return 0


def _write_bytes(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)
