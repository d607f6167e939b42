"""Compiled network -> ``torch.export`` program -> ONNX file (opset 18 by default), batch size left dynamic."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from archspec.errors import SpecError

OPSET = 18
MIN_OPSET = 17
EXAMPLE_BATCH = 2  # torch.export specialises sizes 0 and 1, so trace with 2 and declare the batch dynamic


def export_program(model: nn.Module, input_shape: Sequence[int]) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` in eval mode for inputs ``(batch, *input_shape)``, any batch size."""
    example = torch.randn(EXAMPLE_BATCH, *input_shape)
    batch = torch.export.Dim("batch", min=1)
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


def to_onnx(program: torch.export.ExportedProgram, path: str | os.PathLike[str], opset: int = OPSET) -> None:
    """Write an exported program as an ONNX file (weights beside it in ``FILE.data`` when above 2 GB).

    The files appear only when complete: they are written in a temporary folder next to the target, then moved.
    """
    check_opset(opset)
    target = Path(path)
    if not target.parent.is_dir():
        raise SpecError(f"output folder {str(target.parent)!r} does not exist")
    # the exporter prints progress lines on stdout, which would corrupt a command's JSON output
    with contextlib.redirect_stdout(io.StringIO()):
        onnx_program = torch.onnx.export(program, dynamo=True, opset_version=opset, input_names=["input"])
    staging = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        onnx_program.save(os.path.join(staging, target.name))
        for name in sorted(os.listdir(staging), key=len, reverse=True):  # the model file last
            os.replace(os.path.join(staging, name), target.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: str | os.PathLike[str],
                opset: int = OPSET) -> None:
    """Export ``model`` (put in eval mode) to an ONNX file taking ``(batch, *input_shape)`` inputs."""
    check_opset(opset)  # before the slow part
    to_onnx(export_program(model, input_shape), path, opset)


def check_opset(opset: int) -> None:
    """Refuse opsets older than MIN_OPSET."""
    if opset < MIN_OPSET:
        raise SpecError(f"--opset must be >= {MIN_OPSET}, got {opset}")
