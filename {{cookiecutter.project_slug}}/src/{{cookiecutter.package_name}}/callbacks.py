"""Callbacks the configs in conf/callbacks/ build, where Lightning's own need a small change."""

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .errors import ConfigError

log = logging.getLogger(__name__)


class OptionalLearningRateMonitor(LearningRateMonitor):
    """Logs learning rates when the run has a logger and does nothing without one.

    Lightning's monitor raises for a trainer without loggers, which would make `logger=none`
    fail with the default callbacks.
    """

    def on_train_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.loggers:
            super().on_train_epoch_start(trainer, *args, **kwargs)


class NonFiniteLossError(ConfigError):
    """Training produced a NaN or infinite loss; usually fixed by a smaller learning rate."""


class StopOnNonFiniteLoss(Callback):
    """Stops at the first NaN/Inf training loss, before a checkpoint can store the bad weights."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        bad = loss is not None and not bool(torch.isfinite(loss).all())
        if trainer.world_size > 1:
            # All processes stop together: one stopping alone leaves the others waiting forever
            # at their next gradient all-reduce.
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        value = loss.item() if loss is not None else float("nan")
        checkpoint = getattr(trainer.checkpoint_callback, "last_model_path", "") or "none saved"
        raise NonFiniteLossError(
            f"the training loss became {value} at epoch {trainer.current_epoch}, step"
            f" {trainer.global_step}; stopped. Last good checkpoint: {checkpoint}. Start again"
            " with a lower model.optimizer.lr, or resume from it with trainer.gradient_clip_val=1.0"
            " (a resumed run keeps its optimizer's learning rate)"
        )


class CheckpointOnSigterm(Callback):
    """Saves last.ckpt when the run receives SIGTERM (as SLURM sends before a requeue or kill).

    Lightning turns SIGTERM into a clean exit after the current batch; this saves the state at
    that point, mid-epoch included, so `ckpt_path=last` continues from there.
    """

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        directory = getattr(trainer.checkpoint_callback, "dirpath", None)
        path = Path(directory or f"{trainer.default_root_dir}/checkpoints") / "last.ckpt"
        trainer.save_checkpoint(path)
        log.warning("Received SIGTERM: saved %s; continue with ckpt_path=last", path)
