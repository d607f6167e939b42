"""The documentation site: the generated files are what ``archspec docs`` makes, the references cover the code,
and ``mkdocs build --strict`` passes."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from archspec import docs
from archspec.cli import main, make_parser
from archspec.ops import OPS
from archspec.spec import schema
from tests.library import SPECS

ROOT = SPECS.parent.parent  # the checkout (the library lives in archspec/specs)
DOCS = ROOT / "docs"


def test_generated_files_are_up_to_date() -> None:
    drift = docs.differences(docs.generate(SPECS, DOCS, make_parser()), DOCS)
    assert not drift, (f"docs/{drift[0]} is not what `archspec docs` generates ({len(drift)} files drifted): "
                       "run `make docs` and commit the result")


def test_the_spec_reference_has_every_model_field_and_primitive() -> None:
    page = docs.spec_reference.spec_reference()
    models = [m for m in vars(schema).values() if isinstance(m, type) and issubclass(m, BaseModel)
              and m.__module__ == schema.__name__ and m not in (schema.Strict, schema.ItemBase)]
    for model in models:
        section = page.split(f"### {model.__name__} {{#")[1].split("\n### ")[0]
        for name in model.model_fields:
            assert f"| `{name}`" in section, f"{model.__name__}.{name}"
    for name, op in OPS.items():
        assert f"`{name}`" in page, name
        section = page.split(f"### {op.name} {{#op-{op.name}}}")[1].split("\n### ")[0]
        assert "Example" in section and "| PyTorch |" in section, name


def test_the_cli_reference_has_every_command_and_option() -> None:
    parser = make_parser()
    page = docs.cli_reference.cli_reference(parser)
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, command in commands.items():
        section = page.split(f"## archspec {name} {{#{name}}}")[1].split("\n## ")[0]
        for action in command._actions:
            for flag in action.option_strings if not isinstance(action, argparse._HelpAction) else ():
                assert f"`{flag}`" in section, f"archspec {name} {flag}"


def test_the_docs_command_writes_checks_and_removes_stale_pages(tmp_path: Path, capsys) -> None:
    library, out = tmp_path / "specs", tmp_path / "docs"
    (library / "blocks").mkdir(parents=True)
    shutil.copy(SPECS / "lenet5.yaml", library)
    shutil.copy(SPECS / "blocks" / "classic.yaml", library / "blocks")
    out.mkdir()
    shutil.copy(DOCS / "tutorial.md", out)

    assert main(["docs", str(library), "--output-dir", str(out), "--check"]) == 2
    assert "library/lenet5.md" in capsys.readouterr().err
    assert main(["docs", str(library), "--output-dir", str(out)]) == 0
    for path in ("library/index.md", "library/lenet5.md", "reference/spec-language.md", "reference/cli.md",
                 "reference/python.md", "reference/modules.md", "architecture.svg", "tutorial/resnet20.svg"):
        assert (out / path).is_file(), path
    assert "[lenet5](lenet5.md)" in (out / "library" / "index.md").read_text()
    assert "![lenet5 at block level](../gallery/lenet5.svg)" in (out / "library" / "lenet5.md").read_text()
    assert main(["docs", str(library), "--output-dir", str(out), "--check"]) == 0

    (out / "library" / "lenet5.md").write_text("edited by hand\n")
    (out / "library" / "alexnet.md").write_text("a network no longer in the library\n")
    capsys.readouterr()
    assert main(["docs", str(library), "--output-dir", str(out), "--check"]) == 2
    err = capsys.readouterr().err
    assert "lenet5.md: differs" in err and "alexnet.md: stale" in err and "make docs" in err
    assert main(["docs", str(library), "--output-dir", str(out)]) == 0
    assert not (out / "library" / "alexnet.md").exists()
    assert main(["docs", str(library), "--output-dir", str(out), "--check"]) == 0


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """Broken links, missing images or anchors and nav entries without a page fail the build."""
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "tutorial.html").is_file()
    assert (tmp_path / "site" / "library" / "resnet50.html").is_file()


def test_the_maintainer_commands_create_their_folders_and_refuse_in_one_line(tmp_path: Path, monkeypatch,
                                                                             capsys) -> None:
    """``docs --output-dir`` a folder that does not exist yet (no tutorial there: no tutorial diagrams) and
    ``gallery`` run outside the checkout create their folders; a file where a folder should be is one line, exit 2."""
    library = tmp_path / "specs"
    (library / "blocks").mkdir(parents=True)
    shutil.copy(SPECS / "lenet5.yaml", library)
    shutil.copy(SPECS / "blocks" / "classic.yaml", library / "blocks")
    out = tmp_path / "site" / "docs"
    assert main(["docs", str(library), "--output-dir", str(out)]) == 0
    assert (out / "library" / "lenet5.md").is_file() and not (out / "tutorial").exists()
    monkeypatch.chdir(tmp_path)
    assert main(["gallery", str(library)]) == 0
    assert (tmp_path / "docs" / "gallery" / "lenet5.svg").is_file()
    capsys.readouterr()
    (tmp_path / "taken").write_text("")
    for command in ("docs", "gallery"):
        assert main([command, str(library), "--output-dir", str(tmp_path / "taken")]) == 2
        assert capsys.readouterr().err == f"cannot write into {str(tmp_path / 'taken')!r}: it is not a folder\n"
