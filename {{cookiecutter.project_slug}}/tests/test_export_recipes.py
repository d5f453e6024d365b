"""The README's export recipe: a trained model as ONNX, checked against PyTorch."""

import json
import re
from pathlib import Path

import pytest

from .conftest import run_script
from .test_recipes import QUIET, newest_run, ok

pytestmark = pytest.mark.slow


def test_export_to_onnx_and_compare(tmp_path: Path) -> None:
    ok(run_script(tmp_path, "train.py", "trainer.max_epochs=3", *QUIET))
    output = ok(run_script(tmp_path, "export.py", "ckpt_path=last"))
    match = re.search(r"onnxruntime and PyTorch differ by at most (\S+) \(allowed: 1e-05", output)
    assert match, output[-2000:]
    assert float(match[1]) <= 1e-5
    run = newest_run(tmp_path)
    assert (run / "model.onnx").is_file() and (run / "run_info.json").is_file()
    record = json.loads((run / "model.json").read_text())
    assert record["input"] == {"shape": ["batch", 8], "dtype": "float32"}
    assert record["check"]["max_abs_difference"] == pytest.approx(float(match[1]), rel=1e-2)
