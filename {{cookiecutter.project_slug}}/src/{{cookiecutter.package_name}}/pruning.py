"""Optuna pruning in Hydra searches: a trial that clearly lags the others stops early.

Optuna prunes inside the objective: the trial reports its metric after every epoch and asks
the study's pruner whether to go on. Under Hydra the objective is a job that knows only its
overrides, and Hydra's Optuna sweeper records every job that raises as FAIL. The two halves:

- `OptunaPruning`, a Lightning callback in each job (callbacks.optuna_pruning in
  conf/hparams_search/regression_optuna.yaml): Optuna's own `PyTorchLightningPruningCallback`
  on the job's trial, found in the study by the number the sweeper passed (`trial=<number>`).
- `PruningOptunaSweeper` (hydra.sweeper._target_): Hydra's Optuna sweeper, which passes
  `trial=<number>` to each job and records a job stopped by the pruner as PRUNED.

Imported only by Optuna searches (Hydra builds both from the config).
"""

import logging
import math
from collections.abc import Sequence
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_optuna_sweeper._impl import (
    OptunaSweeperImpl,
    create_params_from_overrides,
)
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import OmegaConf
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from .errors import ConfigError

log = logging.getLogger(__name__)


class OptunaPruning(PyTorchLightningPruningCallback):
    """Optuna's Lightning pruning callback on the trial this job runs.

    After each validation the trial gets `monitor` (the epoch is the step); when `pruner` finds
    it behind the other trials at that epoch, the callback raises `optuna.TrialPruned` and the
    sweeper records the trial as PRUNED. The study is the running search's (hydra.sweeper).
    """

    def __init__(self, trial: int | None, monitor: str, pruner: optuna.pruners.BasePruner) -> None:
        if trial is None or not HydraConfig.initialized():
            raise ConfigError(
                "callbacks.optuna_pruning prunes trials of an Optuna search and needs the trial"
                " number its sweeper passes (trial=<number>); run the search with -m, or drop"
                " the callback with ~callbacks.optuna_pruning"
            )
        sweeper = HydraConfig.get().sweeper
        study = optuna.load_study(
            study_name=sweeper.study_name, storage=sweeper.storage, pruner=pruner
        )
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        found = [t for t in running if t.number == trial]
        if not found:
            raise ConfigError(
                f"trial={trial} is not a running trial of study {sweeper.study_name!r}; the"
                " sweeper sets trial=<number> for each job it starts"
            )
        # Optuna looks trials up by id; it has no public way from a number to a running trial.
        super().__init__(optuna.Trial(study, found[0]._trial_id), monitor)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        # Under DDP the callback stops every process instead of raising; this raises in each.
        self.check_pruned()


class PruningOptunaSweeper(OptunaSweeper):
    """Hydra's Optuna sweeper (hydra/sweeper=optuna, same settings) with pruned trials.

    Hydra builds sweepers from its plugin registry: the multirun callback (sweeps.py) registers
    this one before the search starts.
    """

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)  # builds Hydra's implementation and the sampler
        self.sweeper = PruningSweeperImpl(**{**settings, "sampler": self.sweeper.sampler})


class PruningSweeperImpl(OptunaSweeperImpl):
    """Hydra's ask-launch-tell loop, for one objective, where a pruned job is told PRUNED.

    The loop is Hydra's own (hydra_optuna_sweeper's `OptunaSweeperImpl.sweep`) with its
    helpers; what differs is `tell` and the `trial=<number>` override.
    """

    def _configure_trials(self, trials: list[optuna.Trial], *args: Any) -> Sequence[Sequence[str]]:
        jobs = super()._configure_trials(trials, *args)
        return [(*job, f"trial={trial.number}") for job, trial in zip(jobs, trials, strict=True)]

    def sweep(self, arguments: list[str]) -> None:
        assert self.launcher is not None and self.config is not None  # set up by Hydra
        self._process_searchspace_config()
        space, fixed, fixed_overrides = create_params_from_overrides(
            [*self._parse_sweeper_params_config(), *arguments]
        )
        for name in fixed:  # a value given on the command line is no longer searched
            space.pop(name, None)
        # Hydra leaves the grid sampler a partial: its grid is the search space, known only now.
        if getattr(self.sampler, "func", None) is optuna.samplers.GridSampler:
            choices = {name: self._to_grid_sampler_choices(d) for name, d in space.items()}
            self.sampler = self.sampler(choices)
            self.n_trials = min(self.n_trials, math.prod(len(c) for c in choices.values()))
        directions = self._get_directions()
        if len(directions) != 1:
            raise ConfigError("hydra.sweeper.direction: the training jobs return one value")
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage,
            sampler=self.sampler,
            direction=optuna.study.StudyDirection[directions[0].upper()],
            load_if_exists=True,
        )
        sampler = type(self.sampler).__name__
        log.info("Study %s in %s, sampler %s", study.study_name, self.storage, sampler)
        to_go = self.n_trials
        while to_go > 0:
            trials = [study.ask() for _ in range(min(self.n_jobs, to_go))]
            overrides = self._configure_trials(trials, space, fixed, fixed_overrides)
            jobs = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(jobs)
            failed = [
                job for trial, job in zip(trials, jobs, strict=True) if not tell(study, trial, job)
            ]
            if len(failed) / len(jobs) > self.max_failure_rate:
                log.error("%d of %d trials failed (max_failure_rate)", len(failed), len(jobs))
                failed[0].return_value  # noqa: B018  (raises the job's error with its traceback)
            to_go -= len(trials)
        self._save_best(study)

    def _save_best(self, study: optuna.Study) -> None:
        """optimization_results.yaml in the sweep folder, as Hydra's sweeper writes it."""
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            log.warning("No trial completed")
            return
        best = study.best_trial
        log.info("Best parameters: %s; best value: %s", best.params, best.value)
        assert self.config is not None
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        OmegaConf.save(results, f"{self.config.hydra.sweep.dir}/optimization_results.yaml")


def tell(study: optuna.Study, trial: optuna.Trial, job: JobReturn) -> bool:
    """Records a finished job in its trial: COMPLETE with its value, PRUNED when the pruning
    callback stopped it, FAIL otherwise; False for a failure."""
    if job.status == JobStatus.FAILED and isinstance(job._return_value, optuna.TrialPruned):
        study.tell(trial, state=TrialState.PRUNED)  # its value: the last one it reported
        log.info("Trial %d pruned: %s", trial.number, job._return_value)
        return True
    try:
        value = float(job.return_value)  # a failed job raises its error here
        _tell_value(study, trial, value)
    except Exception as error:
        study.tell(trial, state=TrialState.FAIL)
        log.warning("Trial %d failed: %s", trial.number, error)
        return False
    return True


def _tell_value(study: optuna.Study, trial: optuna.Trial, value: float) -> None:
    try:
        study.tell(trial, value)
    except RuntimeError as error:
        # A grid sampler stops the study after its last point, which outside Study.optimize
        # raises once the trial is recorded.
        if not str(error).startswith("`Study.stop` is supposed to be invoked"):
            raise
