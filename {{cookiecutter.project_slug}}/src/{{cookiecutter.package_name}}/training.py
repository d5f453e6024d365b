"""One training run from a composed config: seed -> data -> model -> trainer -> fit -> test."""

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from .plots import plot_csv_log
from .preflight import check_hardware, find_checkpoint
from .provenance import record_run
from .reporting import print_metrics, save_metrics
from .tracking import finish, run_info
from .validation import validate_config

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Trains and tests the configured model; returns the final metrics (also in metrics.json)."""
    validate_config(cfg)
    hardware = cfg.trainer
    check_hardware(hardware.accelerator, hardware.get("devices"), hardware.get("precision"))
    ckpt_path = find_checkpoint(cfg.get("ckpt_path"), cfg.paths.log_dir)  # resume from here
    # A job run again in its own directory (SLURM requeues a preempted job that way) continues.
    ckpt_path = ckpt_path or interrupted_run(Path(cfg.paths.output_dir))
    record_run(Path(cfg.paths.output_dir), OmegaConf.to_yaml(cfg, resolve=True))
    L.seed_everything(cfg.seed, workers=True)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(cfg.model)
    if cfg.get("compile"):
        compile_network(model)
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_group(cfg.get("callbacks")),
        logger=instantiate_group(cfg.get("logger")) or False,
    )
    log.info(
        "Training on %d node(s) x %d device(s): world size %d",
        trainer.num_nodes,
        trainer.num_devices,
        trainer.world_size,
    )
    config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    config["run_info"] = run_info(model, cfg.get("tags") or [])  # git commit, parameter counts
    for logger in trainer.loggers:
        logger.log_hyperparams(config)

    if ckpt_path:
        log.info("Resuming from %s", ckpt_path)
        continue_checkpoints(trainer, Path(ckpt_path))
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalars(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback
    best_score = getattr(checkpoint, "best_model_score", None)
    if best_score is not None and (monitored := getattr(checkpoint, "monitor", None)):
        # The monitored value of the checkpoint that is kept and tested, beside the last epoch's.
        metrics.setdefault(f"{monitored}_best", float(best_score))
    if cfg.get("test"):
        best = getattr(checkpoint, "best_model_path", "") or None  # None: test the final weights
        log.info("Testing %s", best or "the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best)
        metrics |= scalars(trainer.callback_metrics)

    if trainer.is_global_zero:
        output_dir = Path(cfg.paths.output_dir)
        save_metrics(metrics, output_dir / "metrics.json")
        print_metrics(metrics)
        if plot := plot_csv_log(trainer.loggers, output_dir / "metrics.png"):
            log.info("Curves: %s", plot)
        log.info("Run directory: %s", output_dir.resolve())
    finish(trainer.loggers)
    return metrics


def interrupted_run(output_dir: Path) -> str | None:
    """The last.ckpt a previous attempt of this very run left in its directory, if any."""
    last = output_dir / "checkpoints" / "last.ckpt"
    return str(last) if last.is_file() else None


def continue_checkpoints(trainer: L.Trainer, ckpt_path: Path) -> None:
    """Resumed runs keep checkpointing into the folder they resume from.

    ModelCheckpoint forgets its best score and best checkpoints when its folder changes; kept,
    the best model (tested at the end, and a sweep's value) is the best over all epochs.
    """
    if ckpt_path.parent.name != "checkpoints":  # a file from elsewhere: leave the run's own folder
        return
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            callback.dirpath = str(ckpt_path.parent.resolve())
    log.info("Checkpoints continue in %s", ckpt_path.parent.resolve())


def compile_network(model: L.LightningModule) -> None:
    """torch.compile the network in place: parameter names, hence checkpoints, stay the same."""
    getattr(model, "net", model).compile()


def instantiate_group(group: Mapping[str, Any] | None) -> list[Any]:
    """Builds each `_target_` entry of a group such as `callbacks` or `logger`, in config order."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node and "_target_" in node]


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}
