"""Hyperparameter sweeps: what a trial returns, checks before the first trial, the summary.

Importing this package registers the `sweep_direction` resolver the search configs use; the
Optuna-dependent parts (`summary`, `callback`) are imported only where a sweep needs them.
"""

import logging
import os

from omegaconf import OmegaConf

from .objective import (
    TrialFailed,
    best_value,
    check_optimized_metric,
    objective_value,
    optuna_direction,
    run_trial,
)

# optuna 2 (required by hydra-optuna-sweeper) uses SQLAlchemy 1.4 APIs that 2.0 removed; the
# `sqlalchemy<2` pin keeps them working, so its upgrade warning is noise in every sweep's output.
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

# Opening a study runs alembic's schema checks, which log a dozen INFO lines to every sweep.
logging.getLogger("alembic").setLevel(logging.WARNING)

OmegaConf.register_new_resolver("sweep_direction", optuna_direction, replace=True)

__all__ = [
    "TrialFailed",
    "best_value",
    "check_optimized_metric",
    "objective_value",
    "optuna_direction",
    "run_trial",
]
