"""`python serve.py [overrides]` and its console script, with the schema of conf/serve.yaml."""

from dataclasses import dataclass
from importlib.util import find_spec

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from ..config import TrainConf
from ..errors import ConfigError
from . import hydra_task


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


ConfigStore.instance().store(name="serve_schema", node=ServeConf, provider=__package__)


@hydra_task("serve")
def serve_main(cfg: DictConfig) -> None:
    """`serve.py`: answer HTTP requests with a checkpoint's (or its ONNX export's) predictions."""
    if find_spec("litserve") is None:
        raise ConfigError("serve.py needs LitServe: pip install -e '.[serve]'")
    from ..serving import serve

    serve(cfg)
