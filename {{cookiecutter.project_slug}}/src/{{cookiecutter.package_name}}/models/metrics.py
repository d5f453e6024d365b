"""The metrics each task reports, as torchmetrics collections (one copy per split)."""

from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from ..errors import ConfigError


def task_metrics(task: str, num_outputs: int) -> MetricCollection:
    """Metrics for `task`, named as they appear in logs after the split prefix (`val/r2`)."""
    if task == "regression":
        return MetricCollection(
            {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2Score(num_outputs)}
        )
    raise ConfigError(f"no metrics defined for task {task!r}; expected 'regression'")
