"""Using a trained checkpoint: test it (`eval.py`) or write its predictions (`predict.py`)."""

import csv
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .data.datamodule import SPLITS, ArrayDataModule
from .errors import ConfigError
from .preflight import check_hardware, find_checkpoint
from .provenance import record_run
from .reporting import print_metrics, save_metrics
from .training import instantiate_group, scalars
from .validation import validate_config

log = logging.getLogger(__name__)


def _prepare(cfg: DictConfig) -> tuple[str, L.LightningDataModule, L.LightningModule, L.Trainer]:
    validate_config(cfg)
    hardware = cfg.trainer
    check_hardware(hardware.accelerator, hardware.get("devices"), hardware.get("precision"))
    ckpt_path = find_checkpoint(cfg.ckpt_path, cfg.paths.log_dir, required=True)
    assert ckpt_path is not None  # required=True raised otherwise
    record_run(Path(cfg.paths.output_dir), OmegaConf.to_yaml(cfg, resolve=True))
    L.seed_everything(cfg.seed, workers=True)
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(cfg.model)
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=instantiate_group(cfg.get("logger")) or False
    )
    return ckpt_path, datamodule, model, trainer


@contextmanager
def checkpoint_must_fit(ckpt_path: str) -> Iterator[None]:
    """One clear line when the checkpoint's weights do not fit the configured model."""
    try:
        yield
    except RuntimeError as err:
        if "Error(s) in loading state_dict" not in str(err):
            raise
        overrides = Path(ckpt_path).resolve().parents[1] / ".hydra" / "overrides.yaml"
        raise ConfigError(
            f"{ckpt_path} was trained with another model or data shape; give the same overrides"
            f" the run was trained with (they are listed in {overrides})"
        ) from None


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Tests the checkpoint `cfg.ckpt_path` on the test split; returns and saves its metrics."""
    ckpt_path, datamodule, model, trainer = _prepare(cfg)
    log.info("Testing %s", ckpt_path)
    with checkpoint_must_fit(ckpt_path):
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics)
    if trainer.is_global_zero:
        save_metrics(metrics, Path(cfg.paths.output_dir) / "metrics.json")
        print_metrics(metrics, title="Test metrics")
    return metrics


def predict(cfg: DictConfig) -> Path:
    """Writes the checkpoint's predictions for `cfg.split` to <run>/predictions_<split>.csv."""
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split} is not a split; use one of: {', '.join(SPLITS)}")
    ckpt_path, datamodule, model, trainer = _prepare(cfg)
    if not isinstance(datamodule, ArrayDataModule):
        raise ConfigError(
            f"predict.py reads splits of an ArrayDataModule; data._target_={cfg.data._target_}"
            " is not one"
        )
    if trainer.world_size > 1:  # each process would predict only its own shard
        raise ConfigError("predict.py runs in one process: use trainer=cpu or trainer=gpu")
    datamodule.setup("predict")
    dataset = datamodule.split(cfg.split)
    loader = datamodule.split_dataloader(cfg.split)
    with checkpoint_must_fit(ckpt_path):
        batches = trainer.predict(model, dataloaders=loader, ckpt_path=ckpt_path)
    # One loader, so predict() returns the list of its batches' outputs.
    predictions = torch.cat(cast(list[torch.Tensor], batches)).reshape(len(dataset), -1)
    targets = torch.stack([dataset[i][1] for i in range(len(dataset))]).reshape(len(dataset), -1)
    path = Path(cfg.paths.output_dir) / f"predictions_{cfg.split}.csv"
    if trainer.is_global_zero:
        write_predictions(path, targets, predictions)
        log.info("Wrote %d predictions to %s", len(predictions), path.resolve())
    return path


def write_predictions(path: Path, targets: torch.Tensor, predictions: torch.Tensor) -> None:
    """One row per sample: index, target_0.., prediction_0.."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["index"]
            + [f"target_{i}" for i in range(targets.shape[1])]
            + [f"prediction_{i}" for i in range(predictions.shape[1])]
        )
        for index, (target, prediction) in enumerate(zip(targets, predictions, strict=True)):
            writer.writerow([index, *target.tolist(), *prediction.tolist()])
