"""The examples run end to end: the transfer-learning one on its real data, with fewer epochs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_transfer_learning_example(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("transfer_learning", EXAMPLES / "transfer_learning.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(tmp_path / "plot.png", pretrain_epochs=1, finetune_epochs=2)
    out = capsys.readouterr().out
    assert "pre-trained resnet18 (32 px" in out and "50 labelled training images" in out
    assert out.count("%") >= 3 * 2 + 1  # an accuracy per run and epoch, and the pre-training's
    assert (tmp_path / "plot.png").stat().st_size > 10_000
