"""`python export.py [overrides]` and its console script, with the schema of conf/export.yaml."""

from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from ..config import TrainConf
from . import hydra_task


@dataclass
class ExportConf(TrainConf):
    format: str = "onnx"
    check_samples: int = 16
    atol: float = 1e-5
    rtol: float = 1e-4


ConfigStore.instance().store(name="export_schema", node=ExportConf, provider=__package__)


@hydra_task("export")
def export_main(cfg: DictConfig) -> Path:
    """`export.py`: write a checkpoint's model as ONNX (or torch.export), checked."""
    from ..export import export

    return export(cfg)
