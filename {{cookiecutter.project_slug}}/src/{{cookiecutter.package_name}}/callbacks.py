"""Callbacks the configs in conf/callbacks/ build, where Lightning's own need a small change."""

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor


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
