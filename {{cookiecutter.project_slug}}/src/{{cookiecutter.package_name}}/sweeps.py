"""Multiruns: what each job hands its sweeper, the checks before the first job, the summary.

Imported by Hydra at start-up (the callback in conf/hydra/default.yaml), so it stays light: the
training stack and Optuna are imported only inside the hooks that need them.
"""

import logging
import math
import os
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

DIRECTIONS = {"min": "minimize", "max": "maximize"}
CLUSTER_LAUNCHERS = ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",)


class TrialFailed(RuntimeError):
    """A job ran but produced no usable objective value (missing, NaN or infinite)."""


def best_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """The best value `metric` reached during the run (`<metric>_best`, the tested checkpoint's),
    else its last value: a sweep should compare what each trial keeps, not where it ended."""
    value = metrics.get(f"{metric}_best", metrics.get(metric))
    return None if value is None else float(value)


def objective(metrics: Mapping[str, float], metric: str) -> float:
    """`best_value(metrics, metric)`, checked to be a finite number a sweeper can compare.

    Raising (rather than returning NaN) is what lets the sweeper mark just this trial as failed
    and carry on with the next.
    """
    value = best_value(metrics, metric)
    if value is None:
        raise TrialFailed(f"the run reported no {metric!r}; it reported {sorted(metrics)}")
    if not math.isfinite(value):
        raise TrialFailed(f"{metric} is {value}: the run diverged (try a smaller learning rate)")
    return value


def run_trial(train: Callable[[], Mapping[str, float]], metric: str) -> float:
    """Runs one job of a multirun and returns its `objective`; a failure is logged to the job's
    own log and raised, for the sweeper to record."""
    log.info("Trial runs in process %d on %s", os.getpid(), socket.gethostname())
    try:
        return objective(train(), metric)
    except Exception as error:
        if pruned(error):
            log.info("Trial pruned: %s", error)
        else:
            log.exception("Trial failed")
        raise


def pruned(error: BaseException) -> bool:
    """Whether `error` is Optuna's signal that the pruner stopped the trial (pruning.py)."""
    optuna = sys.modules.get("optuna")  # imported by then, if the trial can be pruned at all
    return optuna is not None and isinstance(error, optuna.TrialPruned)


def optuna_direction(mode: str) -> str:
    """`monitor.mode` (min/max) as an Optuna direction (minimize/maximize); a resolver."""
    if mode not in DIRECTIONS:
        raise ValueError(f"monitor.mode={mode} is not min or max")
    return DIRECTIONS[mode]


def check_multirun(config: DictConfig) -> None:
    """What would break every job of a multirun, found before the first one starts."""
    from .checks import check_monitored_metric, data_task
    from .errors import ConfigError

    trainer = config.trainer
    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
    spawns = str(trainer.strategy).startswith("ddp") and str(trainer.devices) != "1"
    if spawns and launcher not in CLUSTER_LAUNCHERS:
        # Lightning starts the extra processes by running the command line again, and in a
        # multirun that command line is the whole sweep. On SLURM, srun starts every process.
        raise ConfigError(
            f"trainer.strategy={trainer.strategy} with trainer.devices={trainer.devices} starts"
            " extra processes, which in a multirun (-m) would each rerun the whole sweep; run"
            " the jobs on SLURM (hydra/launcher=slurm), or one at a time without -m"
        )
    if config.get("optimized_metric"):
        check_monitored_metric("optimized_metric", config.optimized_metric, data_task(config.data))


def register_sweeper(config: DictConfig) -> None:
    """Hydra builds a sweeper only from its registry of plugins; a sweeper of this package
    (pruning.PruningOptunaSweeper, chosen in conf/hparams_search/) is registered here."""
    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if target.startswith(f"{__package__}."):
        from hydra.core.plugins import Plugins
        from hydra.utils import get_class

        Plugins.instance().register(get_class(target))


class MultirunCallback(Callback):
    """Checks a multirun before its first job and registers the project's sweeper; writes an
    Optuna study's summary at the end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from .errors import ProjectError

        try:
            check_multirun(config)
        except ProjectError as err:
            # Hydra turns a callback's exception into a warning and goes on: stop here instead.
            print(f"Error: {err}", file=sys.stderr)
            raise SystemExit(1) from None
        register_sweeper(config)  # Hydra builds the sweeper right after this hook
        # SQLite creates the study file, not its folder, and the study opens before any trial.
        Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        storage = OmegaConf.select(config, "hydra.sweeper.storage", default=None)
        if not storage:
            return
        from .tools.sweep_summary import write_summary  # optuna and matplotlib, only now

        summary = write_summary(
            storage,
            config.hydra.sweeper.study_name,
            Path(config.hydra.sweep.dir),
            metric=config.optimized_metric,
        )
        log.info("Sweep summary: %s", summary.resolve())
