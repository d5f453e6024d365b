"""Pruning: a trial that clearly lags the others stops early, recorded as PRUNED in the study.

Optuna prunes inside the objective: the trial reports its metric after every epoch and asks the
study's pruner whether to go on. Here the objective is a job of its own, possibly in another
process or on another machine, so the job finds its trial in the study itself: the sweeper
(sweeper.py) passes the trial's number as `++trial=<number>`, and the callback below, in
callbacks.optuna_pruning of conf/hparams_search/regression_optuna.yaml, loads the study from
the storage in hydra.sweeper and wraps that trial in Optuna's own Lightning callback.

Imported only in the jobs of a search (Hydra builds the callback from the config).
"""

from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import execution_whitelist, instantiate
from omegaconf import DictConfig
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from ..errors import ConfigError
from ..multirun import JobStopped

PRUNERS = "optuna.pruners.*"  # what callbacks.optuna_pruning.pruner may build


class Pruned(optuna.TrialPruned, JobStopped):
    """Optuna's signal that the pruner stopped the trial, as a job stopped on purpose: the
    sweeper records the trial as PRUNED, the job's job.json says so, and it is no failure."""

    status = "PRUNED"


class OptunaPruning(PyTorchLightningPruningCallback):
    """Optuna's Lightning pruning callback on the trial this job runs.

    After each validation the trial gets `monitor` (the epoch is the step); when `pruner`
    finds it behind the other trials at that epoch, the job stops with `Pruned`. `pruner` is
    its config (the node sets `_recursive_: false`), built here from `optuna.pruners` only.
    """

    def __init__(self, trial: int | None, monitor: str, pruner: DictConfig) -> None:
        if trial is None or not HydraConfig.initialized():
            raise ConfigError(
                "callbacks.optuna_pruning prunes trials of an Optuna search and needs the trial"
                " number its sweeper passes (++trial=<number>); run the search with -m, or"
                " drop the callback with ~callbacks.optuna_pruning"
            )
        sweeper = HydraConfig.get().sweeper
        if not sweeper.get("storage"):
            raise ConfigError(
                "callbacks.optuna_pruning needs the study in a database the jobs can reach"
                " (hydra.sweeper.storage), or drop the callback with ~callbacks.optuna_pruning"
            )
        with execution_whitelist(PRUNERS):
            built = instantiate(pruner)
        storage = optuna.storages.RDBStorage(sweeper.storage)
        study = optuna.load_study(study_name=sweeper.study_name, storage=storage, pruner=built)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if trial not in {t.number for t in running}:
            raise ConfigError(
                f"trial={trial} is not a running trial of study {study.study_name!r}; the"
                " sweeper sets ++trial=<number> for each job it starts"
            )
        study_id = storage.get_study_id_from_name(study.study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial)
        super().__init__(optuna.Trial(study, trial_id), monitor)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        try:
            super().on_validation_end(trainer, pl_module)
        except optuna.TrialPruned as pruned:
            raise Pruned(*pruned.args) from None

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        # Under DDP the callback stops every process instead of raising; this raises in each.
        try:
            self.check_pruned()
        except optuna.TrialPruned as pruned:
            raise Pruned(*pruned.args) from None
