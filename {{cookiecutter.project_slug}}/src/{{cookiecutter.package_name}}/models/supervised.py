"""The LightningModule: trains a network on (x, y) batches with a loss and optimizer from config.

The data says its task (`regression` or `classification`); the task picks the default loss and
the metrics (`task_loss`, `task_metrics`), so any model trains on any data.
"""

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from ..errors import ConfigError, ProjectError

NetFactory = Callable[..., nn.Module]  # Hydra `_partial_: true`: called with the data's shapes
OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
SchedulerFactory = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]


def task_loss(task: str) -> nn.Module:
    """The loss a task trains with when the model config leaves `loss: null`."""
    return nn.MSELoss() if task == "regression" else nn.CrossEntropyLoss()


def task_metrics(task: str, num_outputs: int) -> MetricCollection:
    """Metrics for `task`, named as they appear in logs after the split prefix (`val/r2`).

    Regression takes predictions and targets (B, num_outputs); classification takes logits
    (B, num_outputs) and class indices (B,): `acc` is the fraction of samples right, `f1` the
    macro F1 over classes.
    """
    if task == "regression":
        # R2Score's first argument is `adjusted` (regressors for the adjusted R2): left at 0,
        # r2 is the plain coefficient of determination, averaged over outputs.
        return MetricCollection(
            {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2Score()}
        )
    # validate_args=False: the checks cost more than the update itself on small batches.
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_outputs, average="micro", validate_args=False),
            "f1": MulticlassF1Score(num_outputs, average="macro", validate_args=False),
        }
    )


def metric_names(task: str) -> list[str]:
    """Every name a `task` run logs after the split prefix: `loss`, the metrics, and for
    classification `acc_best` (the best validation accuracy so far, logged as val/acc_best)."""
    names = ["loss", *map(str, task_metrics(task, num_outputs=2).keys())]
    return names + ["acc_best"] if task == "classification" else names


def picklable(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Hydra's `_partial_` factories refuse to be pickled, which `ddp_spawn` does to the module;
    a plain `functools.partial` of the same target (already checked by Hydra) can be."""
    if isinstance(factory, functools.partial):
        return functools.partial(factory.func, *factory.args, **(factory.keywords or {}))
    return factory


class SupervisedModule(L.LightningModule):
    """System, not model: the network, loss and optimizer are handed in, this class only trains.

    The network is built for the data it trains on: `net` is called with one sample's
    `input_shape` and the `num_outputs` (classes, or target columns) once the DataModule has
    loaded them, in Lightning's `configure_model` hook, or by `build()` when used by hand. The
    data's task picks the default loss (`loss=None`: MSE for regression, cross-entropy for
    classification) and the metrics. Logs `{split}/loss` and the task's metrics (`val/mse`,
    `test/acc`, ...) once per epoch, and for classification the best validation accuracy so far
    (`val/acc_best`).
    """

    def __init__(
        self,
        net: NetFactory,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        loss: nn.Module | None = None,
        monitor: str = "val/loss",
        compile: bool = False,
    ) -> None:
        super().__init__()
        # Only plain values go into checkpoints' hyperparameters: modules live in the state dict,
        # and pickled factories would stop torch.load(weights_only=True) from reading the file.
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler", "loss"], logger=False)
        self.net_factory = picklable(net)
        self.optimizer_factory = picklable(optimizer)
        self.scheduler_factory = picklable(scheduler) if scheduler is not None else None
        self.given_loss = loss
        self.net: nn.Module | None = None  # built by build()

    def configure_model(self) -> None:
        """Builds the network for the Trainer's DataModule; Lightning calls it at every stage."""
        if self.net is None:
            data = getattr(self.trainer, "datamodule", None)
            if data is None:
                raise RuntimeError("call build() first, or give the Trainer a datamodule")
            self.build(data.task, data.input_shape, data.num_outputs)

    def build(self, task: str, input_shape: Sequence[int], num_outputs: int) -> None:
        """Creates the network, the loss and the metrics for samples of `input_shape`."""
        # Saved in checkpoints, so a checkpoint alone says what network it holds.
        self.hparams.update(task=task, input_shape=list(input_shape), num_outputs=num_outputs)
        try:
            self.net = self.net_factory(input_shape=tuple(input_shape), num_outputs=num_outputs)
        except ProjectError:
            raise  # already says what to fix (e.g. pretrained weights that cannot be fetched)
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"the network could not be built for samples of shape {list(input_shape)} and"
                f" {num_outputs} outputs: {err}"
            ) from None
        if self.hparams["compile"]:
            self.net.compile()  # in place: parameter names, hence checkpoints, stay the same
        self.loss = self.given_loss if self.given_loss is not None else task_loss(task)
        metrics = task_metrics(task, num_outputs)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # Each split's loss as a sample-weighted mean over the epoch.
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # saved in checkpoints: a resumed run keeps the best

    @property
    def backbone(self) -> nn.Module | None:
        """The network's `backbone`, when it has one: the part a fine-tuning callback freezes
        and later trains at a lower learning rate (Lightning looks for it here)."""
        return getattr(self.net, "backbone", None)

    def forward(self, x: Tensor) -> Tensor:
        assert self.net is not None, "call build() (or fit with a Trainer) first"
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
        # Accumulated on the device and logged once per epoch: a `self.log` call per step costs
        # about as much as a small model's whole step, and reading a value would sync a GPU.
        getattr(self, f"{split}_loss").update(loss.detach(), weight=len(y))
        getattr(self, f"{split}_metrics").update(preds.detach(), y)
        return loss

    def _log_epoch(self, split: str) -> dict[str, Tensor]:
        # compute() reduces over every process, so under DDP these are the whole split's values.
        mean_loss, metrics = getattr(self, f"{split}_loss"), getattr(self, f"{split}_metrics")
        if not mean_loss.update_called:  # resumed after the epoch's last batch: none to report
            return {}
        values = {f"{split}/loss": mean_loss.compute(), **metrics.compute()}
        mean_loss.reset()
        metrics.reset()
        self.log(f"{split}/loss", values.pop(f"{split}/loss"), prog_bar=True, sync_dist=True)
        self.log_dict(values, sync_dist=True)
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
        # Frozen parameters stay out: a fine-tuning callback adds them when it unfreezes them.
        optimizer = self.optimizer_factory([p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams["monitor"]},
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
