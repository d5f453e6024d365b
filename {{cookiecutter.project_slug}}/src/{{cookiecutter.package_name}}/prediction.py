"""`predict.py`: write a trained checkpoint's predictions for one split to a CSV file."""

import csv
import logging
from pathlib import Path
from typing import cast

import lightning as L
import torch
from omegaconf import DictConfig

from .callbacks import RunRecord
from .checks import check_before_start
from .config import instantiate
from .data.datamodule import SPLITS, ArrayDataModule
from .errors import ConfigError
from .models import SupervisedModule
from .runs import atomic_open

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> Path:
    """Writes the checkpoint's predictions for `cfg.split` to <run>/predictions_<split>.csv."""
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split} is not a split; use one of: {', '.join(SPLITS)}")
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = check_before_start(cfg, checkpoint_required=True)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    if not isinstance(datamodule, ArrayDataModule):
        raise ConfigError(f"predict.py reads splits of an ArrayDataModule, not {cfg.data._target_}")
    model: SupervisedModule = instantiate(cfg.model)
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=[RunRecord(cfg, output_dir)], logger=False
    )
    if trainer.world_size > 1:  # each process would predict only its own shard
        raise ConfigError("predict.py runs in one process: use trainer=cpu or trainer=gpu")
    datamodule.setup("predict")
    model.build(datamodule.task, datamodule.input_shape, datamodule.num_outputs)
    dataset = datamodule.split(cfg.split)
    batches = trainer.predict(
        model, dataloaders=datamodule.split_dataloader(cfg.split), ckpt_path=ckpt_path
    )
    # One loader, so predict() returns the list of its batches' outputs.
    predictions = torch.cat(cast(list[torch.Tensor], batches)).reshape(len(dataset), -1)
    targets = torch.as_tensor(dataset.targets).reshape(len(dataset), -1)
    path = output_dir / f"predictions_{cfg.split}.csv"
    if trainer.is_global_zero:
        write_predictions(path, targets, predictions)
        log.info("Wrote %d predictions to %s", len(predictions), path.resolve())
    return path


def write_predictions(path: Path, targets: torch.Tensor, predictions: torch.Tensor) -> None:
    """One row per sample: index, target_0.., prediction_0.."""
    with atomic_open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["index"]
            + [f"target_{i}" for i in range(targets.shape[1])]
            + [f"prediction_{i}" for i in range(predictions.shape[1])]
        )
        for index, (target, prediction) in enumerate(zip(targets, predictions, strict=True)):
            writer.writerow([index, *target.tolist(), *prediction.tolist()])
