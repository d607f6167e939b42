"""Hostile arguments to the Python API: every one ends in archspec's own error with one plain line (or, writing a
file, in the OSError that open() would raise), never another exception from deep inside."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import archspec
from tests.library import SPECS

RESNET18 = SPECS / "resnet18.yaml"


@pytest.mark.parametrize(("path", "message"), [
    pytest.param(0, "expected the path of a file, got int", id="standard-input-descriptor"),  # would block on stdin
    pytest.param(123, "expected the path of a file, got int", id="other-descriptor"),
    pytest.param(None, "expected the path of a file, got NoneType", id="none"),
    pytest.param(["a.yaml"], "expected the path of a file, got list", id="list"),
    pytest.param("/dev/zero", "/dev/zero: not a regular file (a character device)", id="device"),
])
def test_load_refuses_what_is_not_a_spec_file_path(path: Any, message: str) -> None:
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(path)
    assert str(caught.value) == message


def test_load_takes_a_path_as_bytes() -> None:
    assert archspec.load(bytes(RESNET18)).name == "resnet18"


@pytest.mark.parametrize(("overrides", "message"), [
    pytest.param({"variables": [1]}, "variables: expected a mapping of names to values, got list", id="list"),
    pytest.param({"variables": "num_classes=3"}, "variables: expected a mapping of names to values, got str",
                 id="text"),
    pytest.param({"variables": {"num_classes": math.inf}},
                 f"{RESNET18}:18:26: variables.num_classes: must be a finite number, got inf", id="infinite"),
    pytest.param({"variables": {"num_classes": object}},
                 f"{RESNET18}:18:26: variables.num_classes: must be an integer, got <class 'object'>", id="object"),
    pytest.param({"num_classes": True}, "--num-classes must be an integer from 1 to 1000000, got True", id="bool"),
    pytest.param({"image_size": math.nan}, "--image-size must be an integer from 1 to 16384, got nan", id="nan"),
])
def test_overrides_of_the_wrong_kind_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(RESNET18, **overrides).analyze()
    assert str(caught.value) == message


@pytest.mark.parametrize("limit", [-1, 0, math.nan, 1.5, True, 2**61, "8G"])
def test_a_memory_limit_that_is_no_number_of_bytes_is_refused(limit: Any) -> None:
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(RESNET18).check_memory(limit)
    assert str(caught.value) == f"memory_limit: expected a number of bytes from 1 to 2**60, got {limit!r}"


def test_a_head_may_be_a_mapping_as_in_a_file() -> None:
    spec = archspec.load(RESNET18)
    head = [{"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out": 7}]
    assert spec.with_head({"head": head}).analyze().params == spec.with_head(head).analyze().params
    assert spec.with_head({"head": head}).analyze().output_shape == [7]


def test_weights_written_into_a_folder_fail_as_open_would(tmp_path: Path) -> None:
    spec = archspec.load(SPECS / "lenet5.yaml")
    with pytest.raises(OSError, match="Is a directory"):
        archspec.save_weights(spec.build(), tmp_path)


def test_weights_from_a_path_that_is_no_path_are_refused() -> None:
    spec = archspec.load(SPECS / "lenet5.yaml")
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load_weights(spec.build(), 0)  # os.fspath would fail with a TypeError; 0 is standard input
    assert str(caught.value) == "expected the path of a file, got int"
