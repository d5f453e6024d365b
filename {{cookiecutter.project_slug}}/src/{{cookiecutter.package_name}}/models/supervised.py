"""The LightningModule: trains a network on (x, y) batches with a loss and optimizer from config."""

from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from .metrics import task_metrics

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]  # Hydra `_partial_: true`
SchedulerFactory = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]


class SupervisedModule(L.LightningModule):
    """System, not model: the network, loss and optimizer are handed in, this class only trains.

    Logs `{split}/loss` and the task's metrics (`val/mse`, `test/r2`, ...) once per epoch.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        task: str = "regression",
        num_outputs: int = 1,
        monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        # Only plain values go into checkpoints' hyperparameters: modules live in the state dict,
        # and pickled factories would stop torch.load(weights_only=True) from reading the file.
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        metrics = task_metrics(task, num_outputs)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def _shared_step(self, batch: tuple[Tensor, Tensor], split: str) -> Tensor:
        x, y = batch
        preds = self(x)
        loss = self.loss(preds, y)
        metrics = getattr(self, f"{split}_metrics")
        metrics.update(preds.detach(), y)
        # Epoch-level values only: a per-step log call costs about as much as a small model's step.
        # sync_dist: under DDP the epoch loss is averaged over all processes, like the metrics.
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.monitor},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The global RNG draws each epoch's shuffle. Restoring it on resume makes a resumed run see
        # the batches an uninterrupted run would have seen, so both end with the same metrics.
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, _ = batch
        return self(x)
