"""What each task is scored by: its default loss and its torchmetrics (one copy per split)."""

from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from ..errors import ConfigError

TASKS = ("regression", "classification")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"data.task={task!r} is not supported; use one of {TASKS}")


def task_loss(task: str) -> nn.Module:
    """The loss a task trains with when the model config leaves `loss: null`."""
    check_task(task)
    return nn.MSELoss() if task == "regression" else nn.CrossEntropyLoss()


def task_metrics(task: str, num_outputs: int) -> MetricCollection:
    """Metrics for `task`, named as they appear in logs after the split prefix (`val/r2`).

    Classification takes logits (B, num_outputs) and class indices (B,); `acc` is the fraction
    of samples right, `f1` the macro F1 over classes.
    """
    check_task(task)
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
