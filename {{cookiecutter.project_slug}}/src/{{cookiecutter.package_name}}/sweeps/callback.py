"""The Hydra callback of the search configs: checks before the first trial, a summary at the end."""

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError
from .objective import check_optimized_metric

log = logging.getLogger(__name__)


class SweepSummaryCallback(Callback):
    """Validates the objective and prepares the study's folder; writes the summary when done."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_optimized_metric(
                OmegaConf.select(config, "optimized_metric", default=None, throw_on_missing=False),
                config.data.task,
                config.data.num_outputs,
            )
        except ConfigError as err:
            # Hydra turns a callback's exception into a warning; the sweep must not start.
            print(f"Error: {err}", file=sys.stderr)
            raise SystemExit(1) from None
        # SQLite creates the study file, not its folder, and the study opens before any trial.
        Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        storage = config.hydra.sweeper.get("storage")
        if not storage:
            log.warning("The study was kept in memory (no hydra.sweeper.storage): no summary")
            return
        from .summary import write_summary  # optuna and matplotlib, only once a sweep ends

        summary = write_summary(
            storage,
            config.hydra.sweeper.study_name,
            Path(config.hydra.sweep.dir),
            metric=config.optimized_metric,
        )
        log.info("Sweep summary: %s", summary.resolve())
