"""The security property of docs/security.md: a spec reads only regular files in its own folder (and below), the
folders of ARCHSPEC_PATH and the shipped block library; escapes through ``..``, absolute paths and symlinks are
refused in the same words whether the foreign file exists or not, and no message quotes a foreign file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import archspec
from archspec.spec.load import SHIPPED_LIBRARY

LIB = "blocks:\n  unit:\n    doc: {doc}\n    body: [{{op: conv, out: {out}, kernel: 3}}]\n"
SECRET = "root:x:0:0:root:/root:/bin/bash SECRET\n"
OUTSIDE = "lies outside the folders a spec may import from (see ARCHSPEC_PATH)"


def spec(folder: Path, written: str) -> Path:
    """A spec in ``folder`` importing ``written`` (line 2, column 11) and using its block ``unit``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "s.yaml"
    path.write_text(f'name: t\nimports: ["{written}"]\ninput: {{channels: 3, resolution: 8}}\n'
                    "stem: [{block: unit}]\nhead: [{op: global_avgpool}, {op: flatten}, {op: linear, out: 2}]\n")
    return path


def library(path: Path, out: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LIB.format(doc="one conv", out=out))
    return path


def refused(path: Path, reason: str) -> str:
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(path)
    message = str(caught.value)
    assert message == f"{path}:2:11: imports[0]: {reason}"
    return message


def params(out: int) -> int:
    """Hand count: conv 3x3, 3 -> out channels with bias; linear out -> 2 with bias."""
    return (27 * out + out) + (out * 2 + 2)


@pytest.fixture(autouse=True)
def _no_search_path(monkeypatch) -> None:
    monkeypatch.delenv("ARCHSPEC_PATH", raising=False)


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "missing"])
@pytest.mark.parametrize("written", ["../secret.yaml", "sub/../../secret.yaml", "{outside}/secret.yaml",
                                     "link.yaml", "dirlink/secret.yaml"],
                         ids=["dotdot", "down-and-up", "absolute", "symlink-out", "symlinked-folder-out"])
def test_escapes_are_refused_alike_whether_the_foreign_file_exists(tmp_path: Path, written: str,
                                                                   exists: bool) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside"
    (home / "sub").mkdir(parents=True)
    outside.mkdir()
    if exists:
        (tmp_path / "secret.yaml").write_text(SECRET)
        (outside / "secret.yaml").write_text(SECRET)
    (home / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    (home / "dirlink").symlink_to(outside)
    written = written.format(outside=outside)
    message = refused(spec(home, written), f"block library '{written}' {OUTSIDE}")
    assert "SECRET" not in message


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/etc/passwd"])
def test_absolute_paths_to_devices_and_system_files_are_refused(tmp_path: Path, device: str) -> None:
    refused(spec(tmp_path, device), f"block library '{device}' {OUTSIDE}")


def test_a_symlink_to_a_device_is_refused_as_outside(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    refused(spec(tmp_path, "zero.yaml"), f"block library 'zero.yaml' {OUTSIDE}")


def test_a_device_inside_an_allowed_folder_is_not_a_regular_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHSPEC_PATH", "/dev")
    refused(spec(tmp_path, "zero"), "block library 'zero': not a regular file (a character device)")
    refused(spec(tmp_path, "/dev/null"), "block library '/dev/null': not a regular file (a character device)")


def test_a_fifo_inside_the_folder_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "lib.yaml")
    refused(spec(tmp_path, "lib.yaml"), "block library 'lib.yaml': not a regular file (a FIFO)")


def test_symlinks_and_absolute_paths_inside_the_allowed_folders_are_read(tmp_path: Path) -> None:
    library(tmp_path / "real" / "lib.yaml", out=5)
    (tmp_path / "link.yaml").symlink_to("real/lib.yaml")
    assert archspec.load(spec(tmp_path, "link.yaml")).analyze().params == params(5)
    assert archspec.load(spec(tmp_path, str(tmp_path / "real" / "lib.yaml"))).analyze().params == params(5)
    assert archspec.load(spec(tmp_path, "real/../link.yaml")).analyze().params == params(5)


def test_a_symlink_into_the_shipped_library_is_read(tmp_path: Path) -> None:
    (tmp_path / "classic.yaml").symlink_to(SHIPPED_LIBRARY / "blocks" / "classic.yaml")
    path = spec(tmp_path, "classic.yaml")
    path.write_text(path.read_text().replace("[{block: unit}]", "[{block: conv_act, out: 4}]"))
    assert archspec.load(path).analyze().params == params(4)


def test_archspec_path_widens_what_may_be_read(tmp_path: Path, monkeypatch) -> None:
    library(tmp_path / "shared" / "lib.yaml", out=6)
    home = tmp_path / "home"
    for written in ("../shared/lib.yaml", str(tmp_path / "shared" / "lib.yaml")):
        refused(spec(home, written), f"block library '{written}' {OUTSIDE}")
    refused(spec(home, "lib.yaml"), "block library 'lib.yaml' not found")
    monkeypatch.setenv("ARCHSPEC_PATH", os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "shared")]))
    for written in ("../shared/lib.yaml", str(tmp_path / "shared" / "lib.yaml"), "lib.yaml"):
        assert archspec.load(spec(home, written)).analyze().params == params(6)


def test_lookup_order_is_own_folder_then_archspec_path_then_shipped_library(tmp_path: Path, monkeypatch) -> None:
    home, first, second = tmp_path / "home", tmp_path / "first", tmp_path / "second"
    path = spec(home, "blocks/classic.yaml")
    path.write_text(path.read_text().replace("[{block: unit}]", "[{block: conv_act, out: 4}]"))
    assert archspec.load(path).analyze().params == params(4)  # the shipped library's conv_act
    for folder, out in ((second, 8), (first, 7)):
        (folder / "blocks").mkdir(parents=True)
        (folder / "blocks" / "classic.yaml").write_text(
            "blocks:\n  conv_act:\n    doc: d\n    params: {out: null}\n"
            f"    body: [{{op: conv, out: {out}, kernel: 3}}]\n")
    monkeypatch.setenv("ARCHSPEC_PATH", os.pathsep.join([str(first), str(second)]))
    assert archspec.load(path).analyze().params == params(7)
    (home / "blocks").mkdir()
    (home / "blocks" / "classic.yaml").write_text((second / "blocks" / "classic.yaml").read_text())
    assert archspec.load(path).analyze().params == params(8)


def test_an_allowed_file_that_is_no_library_is_not_quoted_whole(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text("x" * 500 + "\n")
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(spec(tmp_path, "lib.yaml"))
    assert str(caught.value) == f"{tmp_path}/lib.yaml:1:1: must be a mapping, got '{'x' * 56}..."


def test_a_spec_scaled_into_another_folder_names_its_imports_as_a_spec_there_finds_them(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    home, elsewhere, out = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "elsewhere" / "scaled.yaml"
    library(home / "lib.yaml")
    source = spec(home, "lib.yaml")
    elsewhere.mkdir()
    scaled = archspec.load(source)
    from archspec.cli import main

    assert main(["scale", str(source), "--width", "2", "-o", str(out)]) == 2  # lib.yaml is outside elsewhere/
    assert not out.exists()
    monkeypatch.setenv("ARCHSPEC_PATH", str(home))
    assert main(["scale", str(source), "--width", "2", "-o", str(out)]) == 0
    assert "imports: [lib.yaml]" in out.read_text()  # found through ARCHSPEC_PATH, as written
    assert archspec.load(out).blocks["unit"].definition == scaled.blocks["unit"].definition  # the same library


def test_a_library_spec_scaled_elsewhere_keeps_its_shipped_imports(tmp_path: Path) -> None:
    from archspec.cli import main

    out = tmp_path / "resnet18_wide.yaml"
    assert main(["scale", str(SHIPPED_LIBRARY / "resnet18.yaml"), "--width", "2", "-o", str(out)]) == 0
    assert "imports: [blocks/resnet.yaml]" in out.read_text()
    archspec.load(out)
