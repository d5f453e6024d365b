"""export.py: the model with its preprocessing as ONNX or torch.export, checked before it counts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import Tensor, nn

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.export import METADATA, ExportError, export, trace
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config, error_line
from .test_errors import assert_one_line_errors, make_workdir

DIGITS = ("data=digits", "model=cnn", "model.net.channels=[4]", "data.image_size=[12,12]")


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("digits")
    train(compose_config(run_dir, *DIGITS, "trainer.max_epochs=2", "logger=none", "test=false"))
    return run_dir / "checkpoints" / "last.ckpt"


def exported(tmp_path: Path, checkpoint: Path, *overrides: str) -> Path:
    cfg = compose_config(tmp_path, f"ckpt_path={checkpoint}", *overrides, config_name="export")
    return export(cfg)


def digits_test_split(tmp_path: Path):
    datamodule = instantiate(compose_config(tmp_path, *DIGITS).data)
    datamodule.setup()
    return datamodule


def test_onnx_takes_stored_images_and_records_how(digits_checkpoint, tmp_path: Path) -> None:
    path = exported(tmp_path, digits_checkpoint)
    assert path == tmp_path / "model.onnx"
    [metadata] = onnx.load(path).metadata_props
    record = json.loads(metadata.value)
    saved = json.loads((tmp_path / "model.json").read_text())  # the same, and the check
    assert metadata.key == METADATA and record == {k: v for k, v in saved.items() if k != "check"}
    assert record["input"] == {"shape": ["batch", 1, 8, 8], "dtype": "uint8"}
    assert record["data"]["classes"] == [str(i) for i in range(10)]
    assert "Resize" in record["preprocessing"]["inside the model"]
    assert len(record["preprocessing"]["mean"]) == 1
    check = saved["check"]
    assert check["inputs"] == 16 and check["max_abs_difference"] <= 1e-4
    # Real test images, any batch size: the same classes as the trained model through PyTorch.
    datamodule = digits_test_split(tmp_path)
    images = datamodule.test_set.features[:33]
    session = onnxruntime.InferenceSession(str(path))
    [logits] = session.run(None, {"input": images})
    cfg = compose_config(tmp_path, *DIGITS)
    module = instantiate(cfg.model)
    module.build("classification", [1, 12, 12], 10)
    module.load_state_dict(torch.load(digits_checkpoint, weights_only=True)["state_dict"])
    with torch.no_grad():
        expected = module.eval()(datamodule.eval_transform(images))
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=1e-4)
    assert len(session.run(None, {"input": images[:1]})[0]) == 1


def test_torch_export_writes_a_program_with_its_record(digits_checkpoint, tmp_path: Path) -> None:
    path = exported(tmp_path, digits_checkpoint, "format=torch_export")
    extra = {METADATA: ""}
    program = torch.export.load(path, extra_files=extra)
    assert json.loads(extra[METADATA])["input"]["dtype"] == "uint8"
    images = torch.from_numpy(digits_test_split(tmp_path).test_set.features[:5])
    assert program.module()(images).shape == (5, 10)


def test_a_regression_takes_raw_feature_rows(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(compose_config(run, "trainer.max_epochs=3", "logger=none", "test=false"))
    path = exported(tmp_path / "export", run / "checkpoints" / "last.ckpt", "format=torch_export")
    datamodule = instantiate(compose_config(tmp_path).data)
    datamodule.setup()
    x, y = datamodule.test_set.features, datamodule.test_set.targets
    predicted = torch.export.load(path).module()(torch.from_numpy(x))  # unscaled: it standardises
    assert float(((predicted - torch.from_numpy(y)) ** 2).mean()) < 0.1


class DataDependent(nn.Module):
    """A forward that branches on a tensor's value in Python: nothing a graph can hold."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        if y.sum() > 0:
            return y
        return -y


def test_a_model_that_does_not_trace_is_one_line() -> None:
    with pytest.raises(ExportError) as raised:
        trace(DataDependent(), torch.randn(4, 3))
    message = str(raised.value)
    assert message.startswith("the model does not trace: Could not guard on data-dependent")
    assert "test_export.py" in message and "if y.sum() > 0:" in message
    assert "\n" not in message


def test_an_unknown_format_is_refused(digits_checkpoint, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format=tflite is not a format; use one of: onnx"):
        exported(tmp_path, digits_checkpoint, "format=tflite")


BRANCHING = """
import math

from torch import nn


class Branching(nn.Module):
    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_outputs)

    def forward(self, x):
        y = self.linear(x.flatten(1))
        return y if y.sum() > 0 else -y
"""

UNTRACEABLE = """
import sys
import branching  # a network of the user's, as the README's model recipe adds one
import {{ cookiecutter.package_name }}.models as models
from {{ cookiecutter.package_name }}.cli import train_main
from {{ cookiecutter.package_name }}.cli.export import export_main

branching.Branching.__module__ = models.__name__  # where the recipe puts it: models/
models.Branching = branching.Branching
net = "model.net._target_={{ cookiecutter.package_name }}.models.Branching"
sys.argv = ["train.py", net, "trainer.max_epochs=1", "logger=none"]
train_main()
sys.argv = ["export.py", "ckpt_path=last"]
export_main()
"""


@pytest.mark.slow
def test_exporting_a_model_that_does_not_trace_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "branching.py").write_text(BRANCHING)
    result = subprocess.run(
        [sys.executable, "-c", UNTRACEABLE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
    )
    line = error_line(result)
    assert line.startswith("Error: the model does not trace: Could not guard on data-dependent")
    assert "(at branching.py:14 in forward: return y if y.sum() > 0 else -y)" in line
    [run] = (tmp_path / "logs" / "runs").iterdir()  # the training run; the export left nothing
    assert (run / "checkpoints" / "last.ckpt").is_file()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The error catalogue's folder (tests/test_errors.py), for this feature's cases."""
    return make_workdir(tmp_path_factory.mktemp("catalogue"))


@pytest.mark.slow
def test_an_unknown_format_gets_one_line(workdir: Path) -> None:
    catalogue = [
        (["export.py", "ckpt_path={tmp}/linear.ckpt", "format=tflite"], "format=tflite is not a"),
    ]
    assert_one_line_errors(catalogue, workdir)
