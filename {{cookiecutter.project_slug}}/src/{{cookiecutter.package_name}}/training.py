"""One training run from a composed config: check -> data -> model -> trainer -> fit -> test."""

import json
import logging
import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from .build import build, scalars
from .errors import TrainingDiverged
from .loggers import end_runs
from .runs import print_metrics, save_metrics
from .runs.checkpoints import continue_tracker_runs
from .runs.checks import check_before_start

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Trains and tests the configured model; returns the final metrics (also in metrics.json).

    `cfg` is conf/train.yaml as Hydra composed it for `python train.py`, or as a test composes
    it with `hydra.compose` (with or without `return_hydra_config`).
    """
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = check_before_start(cfg)  # resume from here, if given
    if (output_dir / "metrics.json").is_file():  # and the folder's config is this one
        log.warning(
            "%s holds this config's finished run: nothing to train. Train on from it in a new"
            " folder with ckpt_path=%s and a larger trainer.max_epochs",
            output_dir,
            output_dir / "checkpoints" / "last.ckpt",
        )
        return json.loads((output_dir / "metrics.json").read_text())
    L.seed_everything(cfg.seed, workers=True)
    continue_tracker_runs(cfg, ckpt_path)

    built = build(cfg, callbacks=True, compile=cfg.compile)
    datamodule, model, trainer = built.datamodule, built.model, built.trainer
    log.info(
        "Training on %d node(s) x %d device(s): world size %d",
        trainer.num_nodes,
        trainer.num_devices,
        trainer.world_size,
    )
    if ckpt_path:
        log.info("Resuming from %s", ckpt_path)
        continue_checkpoints(trainer, Path(ckpt_path))
    with warnings.catch_warnings():
        # "last": the newest checkpoint in this run's own folder, so a job started again there
        # (as SLURM requeues a preempted job) continues; a new run has none, which is no news.
        warnings.filterwarnings("ignore", r".*there is no last checkpoint available")
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path or "last")
    metrics = scalars(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback  # the first ModelCheckpoint: the best one
    check_finite_end(metrics, cfg.monitor.metric, trainer)
    best_score = getattr(checkpoint, "best_model_score", None)
    if best_score is not None and (monitored := getattr(checkpoint, "monitor", None)):
        # The monitored value of the checkpoint that is kept and tested, beside the last epoch's.
        metrics.setdefault(f"{monitored}_best", float(best_score))
    if cfg.get("test"):
        best = getattr(checkpoint, "best_model_path", "") or None  # None: test the final weights
        log.info("Testing %s", best or "the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best)
        metrics |= scalars(trainer.callback_metrics)

    built.record.log_results(trainer, metrics)
    if trainer.is_global_zero:
        save_metrics(metrics, output_dir / "metrics.json")
        built.record.write_model_card(trainer, metrics, "train.py", output_dir)
        print_metrics(metrics)
        from .tools.plots import plot_csv_log  # matplotlib, only once the results are saved

        if plot := plot_csv_log(trainer.loggers, output_dir / "metrics.png"):
            log.info("Curves: %s", plot)
        log.info("Run directory: %s", output_dir.resolve())
    end_runs(trainer.loggers)
    return metrics


def check_finite_end(metrics: Mapping[str, float], monitored: str, trainer: L.Trainer) -> None:
    """A run that ends with a NaN or infinite monitored metric diverged, whatever its loss did
    on the way: it fails, and says where its best checkpoint is."""
    value = metrics.get(monitored)
    if value is None or math.isfinite(value):
        return
    best = getattr(trainer.checkpoint_callback, "best_model_path", "") or "none saved"
    raise TrainingDiverged(
        f"{monitored} is {value} at the end of training (epoch {trainer.current_epoch - 1}):"
        f" the run diverged. Best checkpoint: {best}. Start again with a lower"
        " model.optimizer.lr, or trainer.gradient_clip_val=1.0"
    )


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
