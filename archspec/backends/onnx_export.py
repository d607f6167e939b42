"""Compiled network -> ``torch.export`` program -> ONNX file (opset 18 by default), batch size left dynamic."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from archspec.errors import OutputError, SpecError
from archspec.outputs import check_target, default_mode

OPSET = 18
# what torch's exporter writes as asked: it writes 18 for anything older (and a traceback on stderr), and its
# version converter knows no opset above 23
MIN_OPSET, MAX_OPSET = 18, 23
EXAMPLE_BATCH = 2  # torch.export specialises sizes 0 and 1, so trace with 2 and declare the batch dynamic

if TYPE_CHECKING:  # torch is imported when used, so that a bad --opset is refused without loading it
    import onnx_ir
    import torch
    from torch import nn


def export_program(model: nn.Module, input_shape: Sequence[int]) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` in eval mode for inputs ``(batch, *input_shape)``, any batch size."""
    import torch

    example = torch.randn(EXAMPLE_BATCH, *input_shape)
    batch = torch.export.Dim("batch", min=1)
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


def to_onnx(program: torch.export.ExportedProgram, path: str | os.PathLike[str], opset: int = OPSET,
            optimize: bool = False, progress: Callable[[str], None] | None = None) -> int:
    """Write an exported program as an ONNX file (weights beside it in ``FILE.data`` when above 2 GB); return
    the opset the file declares.

    The graph is written as torch's exporter translates it; ``optimize`` runs onnxscript's optimizer on it first
    (constant folding, pattern rewrites, fusions: a smaller graph, but 30-60% more export time, since one of its
    rewrite rules scans the whole graph for every node). onnxruntime folds and fuses the graph itself when it loads
    it. The files appear only when complete: they are written in a temporary folder next to the target, then moved.
    ``progress`` is told each step as it starts.
    """
    import torch

    check_opset(opset)
    target = check_target(path)
    report = progress or (lambda step: None)
    report("translating to ONNX" + (" and optimising" if optimize else ""))
    # the exporter prints progress lines on stdout, which would corrupt a command's JSON output
    with contextlib.redirect_stdout(io.StringIO()):
        onnx_program = torch.onnx.export(program, dynamo=True, opset_version=opset, input_names=["input"],
                                         optimize=optimize)
    assert onnx_program is not None  # None only from the legacy (dynamo=False) exporter
    name_interface(onnx_program.model)
    written = onnx_program.model.opset_imports.get("", opset)
    if written != opset:
        raise SpecError(f"--opset {opset}: the exporter wrote opset {written} instead; nothing was written")
    staging = None
    report(f"writing {target}")
    try:
        staging = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name[:64]}.")
        onnx_program.save(os.path.join(staging, target.name))
        for name in sorted(os.listdir(staging), key=len, reverse=True):  # the model file last
            os.chmod(os.path.join(staging, name), default_mode())
            os.replace(os.path.join(staging, name), target.parent / name)
    except OSError as exc:
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return written


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: str | os.PathLike[str],
                opset: int = OPSET, optimize: bool = False, progress: Callable[[str], None] | None = None) -> int:
    """Export ``model`` (put in eval mode) to an ONNX file taking ``(batch, *input_shape)`` inputs (``optimize``:
    see ``to_onnx``; ``progress`` is told each step as it starts); return the opset written."""
    check_opset(opset)  # before the slow part
    check_target(path)
    if progress is not None:
        progress("tracing with torch.export")
    return to_onnx(export_program(model, input_shape), path, opset, optimize, progress)


def name_interface(model: onnx_ir.Model) -> None:
    """Name the batch dimension ``batch`` (torch's exporter names it after its symbol, ``s77``) and the outputs
    ``logits`` (the network's main output), ``output_1``, ... (its side outputs, in order)."""
    import onnx_ir

    graph = model.graph
    symbol = str(graph.inputs[0].shape[0]) if graph.inputs[0].shape is not None else None
    values = [*graph.inputs, *(value for node in graph for value in node.outputs)]
    for value in values:
        if value.shape is not None and any(str(dim) == symbol for dim in value.shape):
            value.shape = onnx_ir.Shape(["batch" if str(dim) == symbol else dim for dim in value.shape])
    for index, value in enumerate(graph.outputs):
        value.name = "logits" if index == 0 else f"output_{index}"


def check_opset(opset: int) -> int:
    """``opset`` if torch's exporter writes it as asked (MIN_OPSET to MAX_OPSET)."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise SpecError(f"--opset must be an integer from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}")
    return opset
