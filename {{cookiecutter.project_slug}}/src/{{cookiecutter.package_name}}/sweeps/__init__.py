"""Hyperparameter sweeps: what a trial returns, checks before the first trial, the summary.

Importing this package registers the `sweep_direction` resolver the search configs use; the
Optuna-dependent parts (`summary`, `callback`) are imported only where a sweep needs them.
"""

from omegaconf import OmegaConf

from .objective import TrialFailed, check_optimized_metric, optuna_direction, run_trial

OmegaConf.register_new_resolver("sweep_direction", optuna_direction, replace=True)

__all__ = ["TrialFailed", "check_optimized_metric", "optuna_direction", "run_trial"]
