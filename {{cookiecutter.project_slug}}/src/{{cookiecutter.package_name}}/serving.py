"""`serve.py`: a trained checkpoint (or its ONNX export) answering HTTP requests, with LitServe.

    python serve.py ckpt_path=last                            # http://127.0.0.1:8000/predict
    python serve.py ckpt_path=last onnx_path=<run>/model.onnx # the export, through onnxruntime
    curl --json '{"a": 1.5, "b": -0.2}' http://127.0.0.1:8000/predict      # a table's row
    curl --json "{\"image\": \"$(base64 -w0 cat.png)\"}" http://127.0.0.1:8000/predict

A request is one JSON object: a row of the training table's feature columns, or an image file
base64-encoded under "image". It is read as `predict.py` reads its inputs (the DataModule, with
the checkpoint's columns, statistics, image size and classes) and answered with the prediction
and, for classification, each class's probability. LitServe batches concurrent requests
(`max_batch_size`, `batch_timeout`) and answers GET /health. A request that cannot be read gets a
4xx with one `detail` line and leaves its batch's other requests unharmed. With
LIT_SERVER_API_KEY set in the environment (or .env), requests need it in an X-API-Key header.
"""

import base64
import binascii
import io
import logging
import os
import signal
from functools import partial
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np
import torch
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from omegaconf import DictConfig
from torch import nn

from .build import build_node
from .data.datamodule import ArrayDataModule
from .errors import ConfigError, DataError
from .models.supervised import SupervisedModule
from .runs import job_config, record_run
from .runs.checkpoints import from_checkpoint, require_data_state, trained_shapes
from .runs.checks import check_before_start

log = logging.getLogger(__name__)

HOSTS = ("127.0.0.1", "0.0.0.0", "::")  # the addresses LitServe binds
API_KEY = "LIT_SERVER_API_KEY"  # LitServe's: when set, requests must send it as X-API-Key


def serve(cfg: DictConfig) -> None:
    """Serves the checkpoint's model (or `cfg.onnx_path`) until Ctrl-C."""
    if cfg.host not in HOSTS:
        raise ConfigError(f"host={cfg.host}: LitServe binds one of {', '.join(HOSTS)}")
    output_dir = Path(cfg.paths.output_dir)
    cfg, ckpt_path, checkpoint = from_checkpoint(cfg)
    check_before_start(cfg, checkpoint_required=True)
    datamodule: ArrayDataModule = build_node("data", cfg.data)
    datamodule.load_state_dict(require_data_state(checkpoint, datamodule, ckpt_path))
    model: nn.Module | Path
    if cfg.onnx_path:
        model = Path(cfg.onnx_path)
        if not model.is_file():
            raise ConfigError(f"onnx_path={model} does not exist; give the model.onnx of an export")
    else:
        module: SupervisedModule = build_node("model", cfg.model)
        module.build(*trained_shapes(checkpoint, ckpt_path))
        module.load_state_dict(checkpoint["state_dict"])
        model = module.eval()
    api = ModelAPI(
        datamodule, model, max_batch_size=cfg.max_batch_size, batch_timeout=cfg.batch_timeout
    )
    server = ls.LitServer(
        api,
        accelerator="cpu" if cfg.onnx_path else cfg.accelerator,
        workers_per_device=cfg.workers_per_device,
        timeout=cfg.timeout,
        max_payload_size=cfg.max_payload_size,
    )
    server.app.add_exception_handler(RequestValidationError, unreadable_body)
    record_run(output_dir, job_config(cfg))
    served = model if cfg.onnx_path else ckpt_path
    key = "; requests need the X-API-Key header" if os.environ.get(API_KEY) else ""
    log.info(f"Serving {served} at http://{cfg.host}:{cfg.port}/predict (health: /health){key}")
    signal.signal(signal.SIGTERM, partial(stop, os.getpid()))
    server.run(
        host=cfg.host,
        port=cfg.port,
        num_api_servers=cfg.api_servers,
        log_level=cfg.log_level,
        generate_client_file=False,  # no client.py written into the project
    )


class ModelAPI(ls.LitAPI):
    """Requests -> stored samples (the DataModule) -> outputs (PyTorch or onnxruntime) -> JSON.

    A request that cannot be read becomes its own 4xx answer in `decode_request`, so the
    batch it came in with is still computed for the others (LitServe fails a whole batch on
    an exception).
    """

    def __init__(
        self, datamodule: ArrayDataModule, model: nn.Module | Path, **options: Any
    ) -> None:
        super().__init__(**options)
        # How a request becomes a stored sample: the DataModule's own readers.
        self.read_rows: Any = getattr(datamodule, "read_rows", None)  # a table's rows
        self.read_image: Any = getattr(datamodule, "read_image", None)  # image files
        if self.read_rows is None and self.read_image is None:
            raise ConfigError(
                f"serve.py serves models of tables (data=csv) or image files, and"
                f" {type(datamodule).__name__} reads no new inputs"
            )
        self.datamodule = datamodule
        self.model = model  # the network, or the ONNX file (its session is made in setup())

    def setup(self, device: str) -> None:
        self.device = torch.device(device)
        self.classes = self.datamodule.classes if self.datamodule.task == "classification" else []
        if isinstance(self.model, Path):
            import onnxruntime

            self.session = onnxruntime.InferenceSession(
                str(self.model), providers=["CPUExecutionProvider"]
            )
        else:
            self.model.to(self.device)

    def decode_request(self, request: dict[str, Any]) -> np.ndarray | HTTPException:
        """One stored sample (1, ...), or the HTTPException that answers the request."""
        try:
            if self.read_rows is not None:
                return self.read_rows([request], "the request")
            file = image_file(request)
        except DataError as err:
            return HTTPException(422, str(err))
        try:
            return self.read_image(file)
        except DataError as err:  # the decoder's reason
            return HTTPException(422, f"the request's image cannot be read as an image ({err})")

    def batch(self, inputs: list[Any]) -> list[Any]:
        return inputs  # samples and errors, in order: predict() computes the samples

    def predict(self, x: Any) -> Any:
        """Outputs for the samples among `x` (a list from batch(), or one request's sample)."""
        if not isinstance(x, list):
            return self.predict([x])[0]
        samples = [sample for sample in x if isinstance(sample, np.ndarray)]
        outputs = iter(self.compute(np.concatenate(samples)) if samples else ())
        return [next(outputs) if isinstance(sample, np.ndarray) else sample for sample in x]

    def compute(self, samples: np.ndarray) -> torch.Tensor:
        """The network's outputs for stored samples, as `predict.py` computes them."""
        if isinstance(self.model, Path):
            [output] = self.session.run(None, {self.session.get_inputs()[0].name: samples})
            return torch.from_numpy(output).float()
        with torch.inference_mode():
            inputs = self.datamodule.eval_transform(samples).to(self.device)
            return self.model(inputs).float().cpu()

    def encode_response(self, output: torch.Tensor | HTTPException) -> JSONResponse:
        """The prediction (and each class's probability), or the request's error."""
        if isinstance(output, HTTPException):
            return JSONResponse({"detail": output.detail}, status_code=output.status_code)
        if not self.classes:
            values = output.tolist()
            return JSONResponse({"prediction": values[0] if len(values) == 1 else values})
        probabilities = output.softmax(dim=0)
        return JSONResponse(
            {
                "prediction": self.classes[int(probabilities.argmax())],
                "probabilities": dict(zip(self.classes, probabilities.tolist(), strict=True)),
            }
        )


def stop(main_pid: int, signum: int, frame: object) -> None:
    """SIGTERM (docker stop, a supervisor) stops the server as Ctrl-C does, and LitServe then
    stops its worker processes, which a plain TERM leaves running; its HTTP servers, forked
    with this handler, just exit."""
    if os.getpid() != main_pid:
        raise SystemExit(0)
    raise KeyboardInterrupt


def image_file(request: dict[str, Any]) -> io.BytesIO:
    """The image file of a request {"image": "<the file, base64-encoded>"}."""
    if list(request) != ["image"] or not isinstance(request["image"], str):
        raise DataError(
            'an image model reads {"image": "<an image file, base64-encoded>"}, not a request'
            f" with the keys {list(request)}"
        )
    try:
        return io.BytesIO(base64.b64decode(request["image"], validate=True))
    except binascii.Error as err:
        raise DataError(f"the request's image is not base64 ({err}); encode the file") from None


async def unreadable_body(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 for a body that is no JSON object, as one line: 415 for another content
    type, 400 for JSON that does not parse or is not an object."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip() != "application/json":
        detail = f"Content-Type {content_type or '(none)'}: send a JSON object as application/json"
        return JSONResponse({"detail": detail}, status_code=415)
    assert isinstance(error, RequestValidationError)  # the one error it is registered for
    first = error.errors()[0]
    detail = f"the body is not a JSON object ({first['msg']}); send one object per request"
    return JSONResponse({"detail": detail}, status_code=400)
