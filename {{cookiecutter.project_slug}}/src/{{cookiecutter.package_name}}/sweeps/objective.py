"""What a sweep trial hands its sweeper: one finite number, or an exception it records as failed."""

import logging
import math
import os
import socket
from collections.abc import Callable, Mapping

from ..errors import ConfigError
from ..models.metrics import task_metrics

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DIRECTIONS = {"min": "minimize", "max": "maximize"}


class TrialFailed(RuntimeError):
    """A trial ran but produced no usable objective value (missing, NaN or infinite)."""


def run_trial(train: Callable[[], Mapping[str, float]], metric: str) -> float:
    """Runs one trial and returns `metric`; any failure is logged to the trial's log and re-raised.

    Raising (rather than exiting, or returning NaN) is what lets the sweeper mark just this trial
    as failed and carry on with the next.
    """
    log.info("Trial runs in process %d on %s", os.getpid(), socket.gethostname())
    try:
        return objective_value(train(), metric)
    except Exception:
        log.exception("Trial failed")
        raise


def best_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """The best value `metric` reached during the run (`<metric>_best`, the tested checkpoint's),
    else its last value: a sweep should compare what each trial keeps, not where it ended."""
    value = metrics.get(f"{metric}_best", metrics.get(metric))
    return None if value is None else float(value)


def objective_value(metrics: Mapping[str, float], metric: str) -> float:
    """`best_value(metrics, metric)`, checked to be a finite number a sweeper can compare."""
    value = best_value(metrics, metric)
    if value is None:
        raise TrialFailed(f"the run reported no {metric!r}; it reported {sorted(metrics)}")
    if not math.isfinite(value):
        raise TrialFailed(f"{metric} is {value}: the run diverged (try a smaller learning rate)")
    return value


def check_optimized_metric(metric: str | None, task: str, num_outputs: int) -> None:
    """Fails before the first trial when `metric` is not set or is not a metric the runs log."""
    # Training and validation only: a trial must never be chosen by its test score, and the test
    # metrics do not exist yet when checkpointing and early stopping need the value.
    splits = SPLITS[:2]
    names = ["loss", *task_metrics(task, num_outputs).keys()]
    if task == "classification":
        names.append("acc_best")
    known = [f"{split}/{name}" for split in splits for name in names]
    if not metric or metric == "???":
        raise ConfigError(f"set the metric to optimise, e.g. optimized_metric={known[len(names)]}")
    if metric.startswith("test/"):
        raise ConfigError(
            f"optimized_metric={metric}: a trial must not be chosen by its test score;"
            f" use val/{metric.removeprefix('test/')}"
        )
    if metric not in known:
        raise ConfigError(
            f"optimized_metric={metric} is not a metric the {task} runs log;"
            f" choose one of: {', '.join(known)}"
        )


def optuna_direction(mode: str) -> str:
    """`monitor.mode` (min/max) as an Optuna direction (minimize/maximize)."""
    if mode not in DIRECTIONS:
        raise ConfigError(f"monitor.mode={mode} is not min or max")
    return DIRECTIONS[mode]
