"""Hyperparameter searches with Optuna: `python train.py -m hparams_search=regression_optuna`.

- `sweeper.OptunaSweeper` (hydra/sweeper=optuna, conf/hydra/sweeper/): the study, its sampler,
  and each trial run as a job through the configured Hydra launcher.
- `pruning.OptunaPruning` (callbacks.optuna_pruning): in each job, reports the monitored metric
  after every epoch and stops a trial that lags the others.
- `summary.write_summary`: summary.md, trials.csv and the plots of a study.
- `SearchCallback` (hydra.callbacks.multirun in conf/hparams_search/regression_optuna.yaml):
  the multirun callback, plus what a search adds to it.

Everything search-specific lives here, in conf/hparams_search/, conf/hydra/sweeper/
and tests/test_search*.py. Imported by Hydra at start-up when a search is chosen,
so this module stays light: Optuna is imported by the hooks that use it.
"""

from pathlib import Path

from omegaconf import DictConfig

from ..multirun import MultirunCallback


class SearchCallback(MultirunCallback):
    """The multirun callback for searches: it ends with the study's summary instead of the
    table of jobs."""

    def summarise(self, config: DictConfig, sweep_dir: Path, metric: str) -> Path:
        sweeper = config.hydra.sweeper
        if not sweeper.get("storage"):  # a study in memory: gone with the sweep
            return super().summarise(config, sweep_dir, metric)
        from .summary import write_summary  # Optuna and matplotlib, now

        return write_summary(sweeper.storage, sweeper.study_name, sweep_dir, metric)
