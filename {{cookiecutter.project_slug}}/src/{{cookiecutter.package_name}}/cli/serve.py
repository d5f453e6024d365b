"""`python serve.py [overrides]` and its console script."""

from importlib.util import find_spec

from omegaconf import DictConfig

from ..errors import ConfigError
from . import hydra_task


@hydra_task("serve")
def serve_main(cfg: DictConfig) -> None:
    """`serve.py`: answer HTTP requests with a checkpoint's (or its ONNX export's) predictions."""
    if find_spec("litserve") is None:
        raise ConfigError("serve.py needs LitServe: pip install -e '.[serve]'")
    from ..serving import serve

    serve(cfg)
