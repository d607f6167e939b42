"""Every library spec exports: ``torch.export``, ONNX run by onnxruntime, and ``torch.compile(fullgraph=True)``.

Each network runs at the smallest image size it accepts (tracing cost is what remains), with weights that keep
the signal alive through its depth: PyTorch's default initialisation with fresh BatchNorm statistics shrinks
activations layer after layer until a deep network's output no longer depends on its input, which would make
any comparison pass. Slow (about one minute per ten networks): run in CI all the same.
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

import archspec
from archspec.backends.onnx_export import export_program, to_onnx
from archspec.cli import main
from tests.library import LIBRARY, SPECS, by_network, load, release_memory, smallest

pytestmark = pytest.mark.slow

BATCH = 3  # the exports are traced with batch 2: another size checks that the batch dimension stays dynamic
TOLERANCE = 1e-4  # of the output's scale


def condition(model: nn.Module, x: torch.Tensor) -> None:
    """He-initialise convolutions and linear layers, and set BatchNorm statistics to those of ``x``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average: after one batch, exactly its statistics
        model.train()(x)
    for norm in norms:
        norm.momentum = 0.1
    model.eval()


def outputs(result: torch.Tensor | tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    """A network's output(s) as a list of arrays."""
    return [t.detach().numpy() for t in (result if isinstance(result, tuple) else (result,))]


def error(actual: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """The largest difference between corresponding outputs, relative to each expected output's scale."""
    assert [a.shape for a in actual] == [e.shape for e in expected]
    return max(float(np.abs(a - e).max() / np.abs(e).max()) for a, e in zip(actual, expected, strict=True))


def assert_matches(actual: list[np.ndarray], expected: list[np.ndarray], tolerance: float = TOLERANCE) -> None:
    """Same number and shapes of outputs, values within ``tolerance`` of each output's scale."""
    assert error(actual, expected) <= tolerance


@dataclass
class Case:
    """One library network, compiled and conditioned, with an input batch and its eager outputs."""

    spec: archspec.Spec
    model: nn.Module
    x: torch.Tensor
    expected: list[np.ndarray]

    @cached_property
    def program(self) -> torch.export.ExportedProgram:
        """The network through ``torch.export`` (shared by the export and the ONNX test)."""
        return export_program(self.model, self.x.shape[1:])

    def float32_error(self) -> float:
        """How far the eager float32 outputs are from float64 ones: the rounding error this network amplifies.
        The model itself is converted there and back (float32 -> float64 -> float32 is exact), so that a second
        copy of the weights is never held (RegNetY-128GF's are 2.6 GB)."""
        try:
            with torch.no_grad():
                return error(self.expected, outputs(self.model.double()(self.x.double())))
        finally:
            self.model.float()


def make_case(name: str) -> Case:
    """A library network at its smallest input, conditioned, with its eager outputs on a batch of BATCH."""
    spec = smallest(load(name))
    torch.manual_seed(0)
    model = spec.build()
    shape = spec.analyze().input_shape
    condition(model, torch.randn(8, *shape))
    x = torch.randn(BATCH, *shape)
    with torch.no_grad():
        expected = outputs(model(x))
    main_output = expected[0]
    assert np.abs(main_output[0] - main_output[1]).max() > 1e-3 * np.abs(main_output).max(), \
        "the output does not depend on the input: the comparisons would prove nothing"
    return Case(spec, model, x, expected)


@pytest.fixture(scope="module", params=by_network(LIBRARY))
def case(request) -> Iterator[Case]:
    """Module-scoped and parametrised, so pytest runs every test of one network before building the next."""
    case = make_case(request.param)
    yield case
    case.model = None  # type: ignore[assignment]
    case.__dict__.pop("program", None)
    torch._dynamo.reset()  # the compiled graphs hold the network's parameters
    release_memory()


def test_torch_export(case: Case) -> None:
    with torch.no_grad():
        assert_matches(outputs(case.program.module()(case.x)), case.expected)


def check_onnx(case: Case, optimize: bool = False) -> list[str]:
    """Export ``case`` to ONNX, run it in onnxruntime and compare with the eager outputs; the file's op types."""
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: pytest keeps those, ViT-H's is 2.5 GB
        path = Path(folder) / f"{case.spec.name}.onnx"
        to_onnx(case.program, path, optimize=optimize)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        actual = session.run(None, {"input": case.x.numpy()})
        del session  # its copy of the weights, before float32_error needs room for a float64 one
        ops = [node.op_type for node in onnx.load(path, load_external_data=False).graph.node]
    # other kernels round differently: a deep network (EfficientNet-B2: 7e-4) amplifies that as much as float32 does
    if error(actual, case.expected) > TOLERANCE:
        assert_matches(actual, case.expected, 4 * case.float32_error())
    return ops


def test_onnx_matches_onnxruntime(case: Case) -> None:
    check_onnx(case)


# one of each kind of graph the optimizer rewrites: BatchNorm after convs, squeeze-excitation and hard activations,
# windows (rolls, pads and slices), global attention
OPTIMIZED = ["resnet18", "mobilenet_v3_large", "swin_t", "vit_b_16"]


@pytest.mark.parametrize("name", OPTIMIZED)
def test_optimized_onnx_matches_onnxruntime(name: str) -> None:
    """``optimize=True`` (``--optimize``) writes onnxscript's optimised graph, BatchNorm folded into the convs,
    with the same outputs in onnxruntime."""
    case = make_case(name)
    ops = check_onnx(case, optimize=True)
    assert "BatchNormalization" not in ops


def test_torch_compile_fullgraph(case: Case) -> None:
    """Dynamo captures the whole forward as one graph (any break is an error); the eager backend runs it, so the
    check is about capture, not about the code generator's speed on this CPU."""
    torch._dynamo.reset()
    compiled = torch.compile(case.model, fullgraph=True, backend="eager")
    with torch.no_grad():
        assert_matches(outputs(compiled(case.x)), case.expected)


def test_torch_compile_inductor_on_a_small_network() -> None:
    """The default backend (inductor: generated C++ on CPU) end to end, on one small library network."""
    spec = smallest(load("lenet5"))
    model = spec.build().eval()
    x = torch.randn(BATCH, *spec.analyze().input_shape)
    torch._dynamo.reset()
    # compiled in this process: a pool of compile workers costs more to start than LeNet-5's kernels to build
    with torch.no_grad(), torch._inductor.config.patch(compile_threads=1):
        assert_matches(outputs(torch.compile(model, fullgraph=True)(x)), outputs(model(x)))


def test_cli_exports_onnx_with_weights(tmp_path: Path, capsys) -> None:
    spec = str(SPECS / "resnet18.yaml")
    weights, target = tmp_path / "w.safetensors", tmp_path / "r.onnx"
    assert main(["build", spec, "--num-classes", "10", "--image-size", "64", "-o", str(weights)]) == 0
    capsys.readouterr()
    assert main(["export", spec, "--num-classes", "10", "--image-size", "64", "--weights", str(weights),
                 "--onnx", str(target)]) == 0
    printed = capsys.readouterr().out.splitlines()  # the exporter's own progress lines stay off stdout
    assert printed == [f"wrote {target}: ONNX opset 18, input 'input' of shape [batch, 3, 64, 64], output 'logits'"]
    interface = onnx.load(target).graph  # the names the line gives, the batch dimension named as it says
    assert [(value.name, [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim])
            for value in (*interface.input, *interface.output)] == [("input", ["batch", 3, 64, 64]),
                                                                    ("logits", ["batch", 10])]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.onnx", "w.safetensors"]
    model = archspec.load(spec, num_classes=10, image_size=64).build().eval()
    archspec.load_weights(model, weights)
    x = torch.randn(1, 3, 64, 64)
    session = onnxruntime.InferenceSession(target, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        assert_matches(session.run(None, {"input": x.numpy()}), outputs(model(x)))
    # the exporter's own translation by default; --optimize folds the BatchNorms into the convs
    assert "BatchNormalization" in {node.op_type for node in onnx.load(target).graph.node}
    assert main(["export", spec, "--onnx", str(target), "--optimize"]) == 0
    assert "BatchNormalization" not in {node.op_type for node in onnx.load(target).graph.node}
    capsys.readouterr()
    assert main(["export", spec, "--onnx", str(target), "--opset", "16"]) == 2
    assert capsys.readouterr().err == "--opset must be an integer from 18 to 23, got 16\n"


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, as an interactive shell's is."""

    def isatty(self) -> bool:
        return True


def test_cli_export_shows_its_steps_on_a_terminal_only(tmp_path: Path, monkeypatch, capsys) -> None:
    """On a terminal, each step (tracing, translating, writing) replaces the last on one line, with the seconds so
    far, and the line is erased at the end; in a log or a pipe, nothing but the result."""
    spec = str(SPECS / "resnet18.yaml")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["export", spec, "--image-size", "64", "--onnx", str(tmp_path / "a.onnx")]) == 0
    steps = [part.split(" (")[0] for part in terminal.getvalue().split("\r\033[K") if part]
    assert steps == ["resnet18: tracing with torch.export", "resnet18: translating to ONNX",
                     f"resnet18: writing {tmp_path / 'a.onnx'}"]
    assert terminal.getvalue().endswith("\r\033[K")
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["export", spec, "--image-size", "64", "--onnx", str(tmp_path / "b.onnx")]) == 0
    assert capsys.readouterr().err == ""
