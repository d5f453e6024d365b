"""`export.py`: a trained checkpoint as one self-contained model file for use outside this project.

    python export.py ckpt_path=<file> format=onnx          # <run>/model.onnx
    python export.py ckpt_path=<file> format=torch_export  # <run>/model.pt2

The exported model is the evaluation transform followed by the network: it takes stored samples
as `read_inputs()` gives them (a CSV row's float32 features; a uint8 image of the training size
and channels), any number at a time, and returns the network's outputs (class logits, or the
predicted values). The file records the input shape and type, the preprocessing, the classes
or columns, and the check: the exported model and PyTorch compute the same batch, and the
export fails unless they agree within `atol + rtol * |output|`.
"""

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from .build import build_node
from .data.datamodule import ArrayDataModule
from .errors import ConfigError, ProjectError
from .models.supervised import SupervisedModule
from .runs import job_config, record_run
from .runs.checkpoints import from_checkpoint, require_data_state, trained_shapes
from .runs.checks import check_before_start


class ExportError(ProjectError, RuntimeError):
    """A model that cannot be exported, or whose exported form computes something else."""


log = logging.getLogger(__name__)

FORMATS = {"onnx": "model.onnx", "torch_export": "model.pt2"}
METADATA = "project"  # the key of the record in the ONNX metadata and the .pt2 extra files


class Deployed(nn.Module):
    """The evaluation transform, then the network: stored samples in, outputs out."""

    def __init__(self, transform: Any, net: nn.Module) -> None:
        super().__init__()
        self.transform = transform  # tensor operations (transforms.py): traced with the network
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.transform(x))


def export(cfg: DictConfig) -> Path:
    """Writes <run>/model.onnx (or .pt2) and model.json, once the exported model is checked."""
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format} is not a format; use one of: {', '.join(FORMATS)}")
    output_dir = Path(cfg.paths.output_dir)
    cfg, ckpt_path, checkpoint = from_checkpoint(cfg)
    check_before_start(cfg, checkpoint_required=True)
    datamodule: ArrayDataModule = build_node("data", cfg.data)
    datamodule.load_state_dict(require_data_state(checkpoint, datamodule, ckpt_path))
    module: SupervisedModule = build_node("model", cfg.model)
    module.build(*trained_shapes(checkpoint, ckpt_path))
    module.load_state_dict(checkpoint["state_dict"])
    model = Deployed(datamodule.eval_transform, module).eval()

    example = example_inputs(datamodule, cfg.check_samples, seed=cfg.seed)
    with torch.no_grad():
        expected = model(example)
        program = trace(model, example)
    path = output_dir / FORMATS[cfg.format]
    output_dir.mkdir(parents=True, exist_ok=True)
    record = describe(datamodule, cfg.format, ckpt_path)
    if cfg.format == "onnx":
        write_onnx(program, path, record)
        actual = run_onnx(path, example)
    else:
        torch.export.save(program, path, extra_files={METADATA: json.dumps(record)})
        with torch.no_grad():
            actual = torch.export.load(path).module()(example)
    difference = float((actual - expected).abs().max())
    if not torch.allclose(actual, expected, rtol=cfg.rtol, atol=cfg.atol):
        raise ExportError(
            f"the exported model's outputs differ from PyTorch's by up to {difference:.3g}, more"
            f" than atol={cfg.atol} + rtol={cfg.rtol} x |output| allows; the network does"
            " something the export does not capture (check its forward for Python-side state)"
        )
    tolerance = {"atol": cfg.atol, "rtol": cfg.rtol}
    record["check"] = {"inputs": len(example), "max_abs_difference": difference, **tolerance}
    (output_dir / "model.json").write_text(json.dumps(record, indent=2) + "\n")
    record_run(output_dir, job_config(cfg))
    runtime = "onnxruntime" if cfg.format == "onnx" else "torch.export.load"
    log.info(
        f"Exported {path.resolve()}; on {len(example)} inputs {runtime} and PyTorch differ by at"
        f" most {difference:.3g} (allowed: {cfg.atol:g} + {cfg.rtol:g} x |output|)"
    )
    return path


def example_inputs(datamodule: ArrayDataModule, count: int, seed: int) -> Tensor:
    """`count` random stored samples: uint8 images, or features around the training mean."""
    generator = torch.Generator().manual_seed(seed)
    shape = (count, *datamodule.sample_shape)
    if datamodule.sample_dtype == np.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    values = torch.randn(shape, generator=generator)
    if "mean" in datamodule.fitted:  # the features' own scale, as the training split had it
        values = values * datamodule.fitted["std"] + datamodule.fitted["mean"]
    return values.to(torch.float32)


def trace(model: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
    """The model as a graph, with a free batch size; a forward that depends on the values of
    its tensors (Python `if` on them, `.item()`, numpy) cannot be captured."""
    batch = torch.export.Dim("batch")
    try:  # strict=False: the same tracing whatever the default of this torch release
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},), strict=False)
    except Exception as err:  # torch.export raises many kinds: guards, unsupported ops, ...
        raise ExportError(
            f"the model does not trace: {trace_reason(err)}; torch.export needs a forward made of"
            " tensor operations, without Python branches on tensor values (see torch.export's"
            " docs on control flow: torch.cond, torch.where)"
        ) from err


def trace_reason(error: BaseException) -> str:
    """The first line of a torch.export error, with the line of the model's code that failed."""
    text = str(error)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    calls = re.findall(r'File "([^"]+)", line (\d+), in (\w+)\n\s+(.+)', text)
    if calls:
        file, line, function, code = calls[-1]
        first += f" (at {Path(file).name}:{line} in {function}: {code.strip()})"
    return first


def describe(datamodule: ArrayDataModule, export_format: str, ckpt_path: str) -> dict[str, Any]:
    """What a user of the file needs to feed it and read its outputs."""
    state = datamodule.state_dict()
    fitted = {key: torch.as_tensor(value).tolist() for key, value in state.pop("fitted").items()}
    outputs = (
        f"logits of the classes {datamodule.classes} (softmax for probabilities)"
        if datamodule.task == "classification"
        else "the predicted values, one per target column"
    )
    return {
        "format": export_format,
        "checkpoint": str(Path(ckpt_path).resolve()),
        "task": datamodule.task,
        "input": {
            "shape": ["batch", *datamodule.sample_shape],
            "dtype": datamodule.sample_dtype.name,
        },
        "output": outputs,
        "preprocessing": {"inside the model": repr(datamodule.eval_transform), **fitted},
        "data": {"class": type(datamodule).__qualname__, **state},
    }


def write_onnx(program: torch.export.ExportedProgram, path: Path, record: dict[str, Any]) -> None:
    """The program as ONNX, with the record in the model's metadata."""
    try:
        import onnxruntime  # noqa: F401  (runs the check)
        import onnxscript  # noqa: F401  (torch.onnx's exporter)
    except ImportError:
        raise ConfigError(
            "format=onnx needs onnx, onnxscript and onnxruntime: pip install -e '.[export]'"
            " (or use format=torch_export)"
        ) from None
    for name in ("onnxscript", "onnx_ir"):  # their optimiser reports each pass at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        onnx_program = torch.onnx.export(
            program, input_names=["input"], output_names=["output"], verbose=False
        )
    except Exception as err:  # an operator without an ONNX translation, ...
        raise ExportError(f"the model does not convert to ONNX: {trace_reason(err)}") from err
    assert onnx_program is not None
    onnx_program.model.metadata_props[METADATA] = json.dumps(record)
    onnx_program.save(str(path))


def run_onnx(path: Path, example: Tensor) -> Tensor:
    """The ONNX file's outputs for `example`, computed by onnxruntime."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [output] = session.run(None, {session.get_inputs()[0].name: example.numpy()})
    return torch.from_numpy(output)
