"""The LightningModule: trains a network on (x, y) batches with a loss and optimizer from config."""

from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torchmetrics import MaxMetric

from .metrics import task_loss, task_metrics

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]  # Hydra `_partial_: true`
SchedulerFactory = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]


class SupervisedModule(L.LightningModule):
    """System, not model: the network, loss and optimizer are handed in, this class only trains.

    Logs `{split}/loss` and the task's metrics (`val/mse`, `test/acc`, ...) once per epoch, and
    for classification the best validation accuracy so far (`val/acc_best`). `loss=None` takes
    the task's loss (MSE for regression, cross-entropy for classification).
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None,
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
        self.loss = loss if loss is not None else task_loss(task)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.monitor = monitor
        metrics = task_metrics(task, num_outputs)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # saved in checkpoints: a resumed run keeps the best
        # Per split: (sum of batch losses * batch sizes, number of samples) since the epoch began.
        self._loss_sums: dict[str, tuple[Tensor, int]] = {}

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
        getattr(self, f"{split}_metrics").update(preds.detach(), y)
        # Sum on the device, log once per epoch: a `self.log` call per step costs about as much
        # as a small model's whole step, and reading the value every step would sync a GPU.
        total, count = self._loss_sums.get(split, (0.0, 0))
        self._loss_sums[split] = (total + loss.detach() * len(y), count + len(y))
        return loss

    def _log_epoch(self, split: str) -> dict[str, Tensor]:
        metrics = getattr(self, f"{split}_metrics")
        values = metrics.compute()
        metrics.reset()
        total, count = self._loss_sums.pop(split, (None, 0))
        if count:
            # Sum over processes before dividing, so that under DDP the loss is the mean over every
            # sample of the split, exactly what one process computes (the metrics sync themselves).
            strategy = self.trainer.strategy
            total = strategy.reduce(total, reduce_op="sum")
            samples = torch.tensor(float(count), device=total.device)
            values[f"{split}/loss"] = total / strategy.reduce(samples, reduce_op="sum")
            self.log(f"{split}/loss", values[f"{split}/loss"], prog_bar=True, sync_dist=True)
        self.log_dict({k: v for k, v in values.items() if k != f"{split}/loss"}, sync_dist=True)
        return values

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if "val/acc" in values and not self.trainer.sanity_checking:
            self.val_acc_best.update(values["val/acc"])
            self.log("val/acc_best", self.val_acc_best.compute(), sync_dist=True)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor},
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
