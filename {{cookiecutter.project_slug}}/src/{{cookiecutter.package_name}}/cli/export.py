"""`python export.py [overrides]` and its console script."""

from pathlib import Path

from omegaconf import DictConfig

from . import hydra_task


@hydra_task("export")
def export_main(cfg: DictConfig) -> Path:
    """`export.py`: write a checkpoint's model as ONNX (or torch.export), checked."""
    from ..export import export

    return export(cfg)
