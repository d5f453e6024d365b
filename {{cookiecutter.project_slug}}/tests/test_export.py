"""export.py: the model with its preprocessing as ONNX or torch.export, checked before it counts."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import Tensor, nn

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.errors import ConfigError, ExportError
from {{ cookiecutter.package_name }}.export import METADATA, export, trace
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config

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
    path = exported(tmp_path / "export", run / "checkpoints" / "last.ckpt")
    session = onnxruntime.InferenceSession(str(path))
    datamodule = instantiate(compose_config(tmp_path).data)
    datamodule.setup()
    x, y = datamodule.test_set.features, datamodule.test_set.targets
    [predicted] = session.run(None, {"input": x})  # unscaled features: the model standardises
    assert float(np.mean((predicted - y) ** 2)) < 0.1


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
