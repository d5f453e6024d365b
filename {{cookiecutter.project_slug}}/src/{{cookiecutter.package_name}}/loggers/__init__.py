"""The experiment loggers of conf/logger/: Lightning's own, with the run's name and tags set
and the decisions made at run time. CSV is here; each other tracker has a module of its own in
this package, which its config names, and owns what it does differently at the end of a run
(`FinalResults`, `EndOfRun`).

Lightning imports the tracking packages only when a logger starts, so a run that does not
select them never pays their import time.
"""

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch import loggers
from lightning.pytorch.utilities import rank_zero_only


@runtime_checkable
class FinalResults(Protocol):
    """A logger that records a run's final metrics its own way (`RunRecord.log_results`)."""

    def log_final_results(
        self, hyperparameters: dict[str, Any], metrics: dict[str, float], step: int
    ) -> None: ...


@runtime_checkable
class EndOfRun(Protocol):
    """A logger with work to do once the run is over, after the last metric (closing a run)."""

    def end_run(self) -> None: ...


def end_runs(run_loggers: Iterable[Any]) -> None:
    """Lets each logger that needs it close its run, so each multirun job is complete before
    the next starts."""
    for logger in run_loggers:
        if isinstance(logger, EndOfRun):
            logger.end_run()


def overrides_name() -> str | None:
    """The run's overrides as its name in the trackers (`model=mlp,seed=2`: Hydra's
    hydra.job.override_dirname), else the name of its folder (its start time)."""
    if not HydraConfig.initialized():
        return None
    job = HydraConfig.get()
    return job.job.override_dirname or Path(job.runtime.output_dir).name


def sweep_group() -> str | None:
    """The multirun's folder name, so every job of one sweep lands in the same group of runs."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir).name


class CSVLogger(loggers.CSVLogger):
    """Lightning's `CSVLogger`, keeping the rows of a run that continues in its own folder.

    A requeued job (or `ckpt_path=last` with the same `hydra.run.dir`) opens the folder again;
    Lightning's logger would then delete metrics.csv and keep only the epochs trained after
    the restart. Here the new rows are added after the old ones, under the same header.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows_restored = False

    @property
    def experiment(self) -> Any:
        if not self.rows_restored:
            self.rows_restored = True
            path = Path(self.log_dir) / "metrics.csv"
            kept = path.read_text() if path.is_file() else ""
            writer = super().experiment  # deletes the file it finds, on rank 0
            if kept and getattr(rank_zero_only, "rank", 0) == 0:  # other ranks write no file
                path.write_text(kept)
                writer.metrics_keys = next(csv.reader(io.StringIO(kept)))
        return super().experiment
