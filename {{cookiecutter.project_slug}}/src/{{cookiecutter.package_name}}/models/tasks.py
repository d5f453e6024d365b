"""What each task trains with and is scored by: its default loss and its torchmetrics.

The data says its task (`regression` or `classification`); the model takes the loss and the
metrics from here, so any model trains on any data.
"""

from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score


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
