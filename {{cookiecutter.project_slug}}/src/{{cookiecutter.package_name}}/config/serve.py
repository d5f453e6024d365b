"""The schema of conf/serve.yaml: `python serve.py` adds these keys to eval.yaml's."""

from dataclasses import dataclass

from . import TrainConf


@dataclass
class ServeConf(TrainConf):
    host: str = "127.0.0.1"
    port: int = 8000
    onnx_path: str | None = None
    max_batch_size: int = 16
    batch_timeout: float = 0.005
    max_payload_size: int = 1_048_576
    timeout: float = 30.0
    accelerator: str = "auto"
    workers_per_device: int = 1
    api_servers: int = 1
    log_level: str = "warning"


SCHEMAS = {"serve_schema": ServeConf}
