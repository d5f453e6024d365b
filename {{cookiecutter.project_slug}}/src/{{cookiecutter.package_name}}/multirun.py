"""Multiruns: what each job returns, the checks before the first job, the summary at the end.

Imported by Hydra at start-up (the callback in conf/hydra/default.yaml), so it stays light: the
training stack is imported only inside the hooks that need it.
"""

import importlib
import json
import logging
import math
import os
import shutil
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError, ProjectError, describe, exit_with, wants_traceback
from .runs import write_atomically

log = logging.getLogger(__name__)

SPAWNING = ("spawn", "fork", "notebook")  # strategies whose processes Lightning starts itself
JOB_RECORD = "job.json"  # each multirun job's status and value or error, in its folder


class TrialFailed(ProjectError, RuntimeError):
    """A job ran but produced no usable objective value (missing, NaN or infinite)."""


class JobStopped(Exception):
    """Raised in a job stopped on purpose before its end, which is no failure: a search cutting
    short a trial that lags the others. Its job.json says `status`; the summary lists it apart
    from the failed jobs."""

    status = "STOPPED"


def best_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """The best value `metric` reached during the run (`<metric>_best`, the tested checkpoint's),
    else its last value: a sweep should compare what each trial keeps, not where it ended."""
    value = metrics.get(f"{metric}_best", metrics.get(metric))
    return None if value is None else float(value)


def objective(metrics: Mapping[str, float], metric: str) -> float:
    """`best_value(metrics, metric)`, checked to be a finite number a multirun can compare.

    Raising (rather than returning NaN) is what marks just this job as failed, and the multirun
    carries on with the next.
    """
    value = best_value(metrics, metric)
    if value is None:
        raise TrialFailed(f"the run reported no {metric!r}; it reported {sorted(metrics)}")
    if not math.isfinite(value):
        raise TrialFailed(f"{metric} is {value}: the run diverged (try a smaller learning rate)")
    return value


def run_trial(train: Callable[[], Mapping[str, float]], metric: str) -> float:
    """Runs one job of a multirun and returns its `objective`; a failure is logged to the job's
    own log and raised, for the multirun to record."""
    log.info("Trial runs in process %d on %s", os.getpid(), socket.gethostname())
    try:
        return objective(train(), metric)
    except JobStopped as stopped:
        log.info("Trial %s: %s", stopped.status.lower(), stopped)
        raise
    except Exception:
        log.exception("Trial failed")
        raise


def check_multirun(config: DictConfig) -> None:
    """What would break every job of a multirun, found before the first one starts."""
    trainer, devices = config.trainer, config.trainer.devices
    # One process for devices 1 or "auto" on one node; more for 2, -1 (every one), "0,1".
    one = len(devices) == 1 if OmegaConf.is_list(devices) else str(devices) in ("1", "auto")
    several = not one or int(trainer.get("num_nodes") or 1) > 1
    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
    starts_itself = any(word in str(trainer.strategy) for word in SPAWNING)
    on_slurm = launcher.endswith(".SlurmLauncher")
    if several and not starts_itself and not on_slurm:
        # Lightning starts the extra processes by running the command line again, and in a
        # multirun that command line is the whole sweep. On SLURM, srun starts every process;
        # ddp_spawn starts them from inside the job.
        raise ConfigError(
            f"trainer.strategy={trainer.strategy} with trainer.devices={trainer.devices} starts"
            " extra processes by running the command line again, which in a multirun (-m) is"
            " the whole sweep; use trainer.strategy=ddp_spawn, run the jobs under SLURM (where"
            " srun starts every process), or one at a time without -m"
        )
    if on_slurm and (missing := [c for c in ("sbatch", "srun") if shutil.which(c) is None]):
        # The launcher would find out only once the sweep folder is made, with a traceback.
        choice = OmegaConf.select(config, "hydra.runtime.choices.hydra/launcher")
        raise ConfigError(
            f"hydra/launcher={choice} submits each job to SLURM, and this machine has no"
            f" {' or '.join(missing)}; run the command on a SLURM login node (where sbatch and"
            f" srun are installed), or leave out hydra/launcher={choice} to run the jobs here"
        )
    from .runs.checks import check_monitored_metrics  # torch: not at Hydra's start-up

    check_monitored_metrics(config)


def register_sweeper(config: DictConfig) -> None:
    """Registers a sweeper of this package (hydra/sweeper) with Hydra, which builds the sweeper
    from its registry of plugins right after this check; a missing library is named here."""
    target = OmegaConf.select(config, "hydra.sweeper._target_", default="")
    module, _, name = str(target).rpartition(".")
    if not module.startswith(f"{__package__}."):
        return  # Hydra's own, or an installed plugin's
    try:
        sweeper = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as error:
        choice = OmegaConf.select(config, "hydra.runtime.choices.hydra/sweeper")
        raise ConfigError(
            f"hydra/sweeper={choice} needs the Python package {error.name!r}, which is not"
            " installed; install the optional dependencies in pyproject.toml that list it"
        ) from None
    Plugins.instance().register(sweeper)


def job_line(error: BaseException) -> str:
    """The one line that says why a job failed: its `Error:` line, else the exception's."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return describe(error) or f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def record_job(job_dir: Path, job_return: Any, overrides: list[str]) -> None:
    """Writes job.json into the job's folder: status, the value returned, or the error line.

    Jobs may run in other processes or on other machines (another launcher's), so the summary at
    the end of the multirun reads these files rather than anything held in memory.
    """
    record: dict[str, Any] = {"status": "COMPLETED", "value": None, "error": None}
    try:
        value = job_return.return_value  # raises the job's exception when it failed
        record["value"] = float(value) if isinstance(value, int | float) else None
    except Exception as error:
        status = error.status if isinstance(error, JobStopped) else "FAILED"
        record |= {"status": status, "error": job_line(error)}
    record["overrides"] = overrides
    write_atomically(job_dir / JOB_RECORD, json.dumps(record, indent=2) + "\n")


def job_records(sweep_dir: Path, since: float = 0.0) -> list[dict[str, Any]]:
    """The job.json of every job folder in `sweep_dir` written at or after `since` (a time),
    with its folder name; a job without one (killed, or still running) is UNFINISHED."""
    records = []
    for folder in sorted(sweep_dir.iterdir() if sweep_dir.is_dir() else [], key=_job_order):
        path = folder / JOB_RECORD
        marker = path if path.is_file() else folder / ".hydra" / "overrides.yaml"
        if not marker.is_file() or marker.stat().st_mtime < since:
            continue
        if path.is_file():
            record = json.loads(path.read_text())
        else:
            overrides = OmegaConf.to_container(OmegaConf.load(marker))
            record = {"status": "UNFINISHED", "value": None, "error": None, "overrides": overrides}
        records.append(record | {"folder": folder.name})
    return records


def _job_order(folder: Path) -> tuple[int, str]:
    number = folder.name.partition("_")[0]
    return (int(number) if number.isdigit() else -1, folder.name)


def common_overrides(records: list[dict[str, Any]]) -> list[str]:
    """The overrides every job shares (the command line's fixed ones), in their order."""
    shared = set.intersection(*(set(job["overrides"]) for job in records)) if records else set()
    return [o for o in records[0]["overrides"] if o in shared] if records else []


def jobs_markdown(records: list[dict[str, Any]], metric: str, common: list[str]) -> list[str]:
    """A Markdown table of jobs: folder, status, value, their own overrides, error line."""
    lines = [f"| job | status | {metric} | overrides | error |", "| --- | --- | --- | --- | --- |"]
    for job in records:
        value = "" if job["value"] is None else f"{job['value']:.6g}"
        own = " ".join(f"`{o}`" for o in job["overrides"] if o not in common)
        error = (job["error"] or "").replace("|", "\\|")
        lines.append(f"| {job['folder']} | {job['status']} | {value} | {own} | {error} |")
    return lines


def failed_jobs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jobs that failed or never finished (a job stopped on purpose has not failed)."""
    return [job for job in records if job["status"] in ("FAILED", "UNFINISHED")]


class MultirunCallback(Callback):
    """Checks a multirun before its first job, records each job's result in its folder, and ends
    with the summary: every job's status, the failed ones with their error line, and for a
    k-fold multirun each metric's mean and standard deviation over the folds.

    `summarise` writes the summary; a callback for another kind of multirun may override it.
    """

    def __init__(self) -> None:
        self.started: float | None = None  # when the checks passed and the first job could start

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_multirun(config)
            register_sweeper(config)
        except ProjectError as err:
            # Hydra turns a callback's exception into a warning and goes on: stop here instead.
            print(f"Error: {err}", file=sys.stderr)
            raise SystemExit(1) from None
        self.started = time.time() - 1  # file times may be rounded to the second

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        # In the job's own process; rank 0 alone, as it alone writes the job's folder.
        if config.hydra.mode == RunMode.MULTIRUN and config.hydra.output_subdir is not None:
            overrides = list(config.hydra.overrides.task)
            record_job(Path(config.hydra.runtime.output_dir), job_return, overrides)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.started is None:  # refused before the first job
            return
        in_flight = sys.exc_info()[1]  # called from Hydra's `finally`: the sweep's exception
        sweep_dir = Path(config.hydra.sweep.dir)
        metric = config.get("optimized_metric") or config.monitor.metric
        try:
            summary = self.summarise(config, sweep_dir, metric).resolve()
        except Exception as err:  # the sweep failed before its first job, an unreadable file
            log.warning("No sweep summary: %s", err)
            summary = sweep_dir.resolve()
        if any(str(o).startswith("data.fold=") for o in config.hydra.overrides.task):
            from .tools.folds import write_fold_summary

            if folds := write_fold_summary(sweep_dir):
                log.info("Fold summary: %s", folds.resolve())
        jobs = job_records(sweep_dir, since=self.started)  # this command's jobs
        failed = failed_jobs(jobs)
        for job in failed:
            log.error("Job %s %s: %s", job["folder"], job["status"].lower(), job["error"] or "")
        log.info("Sweep summary: %s", summary)
        if wants_traceback() or (in_flight is not None and not isinstance(in_flight, Exception)):
            return  # the sweep's own exception goes on: asked for, or Ctrl-C
        if jobs and len(failed) == len(jobs):
            exit_with(f"every job of the multirun failed ({len(jobs)}); see {summary}")
        if failed and in_flight is not None:  # Hydra's grid multirun stops at the first failure
            exit_with(f"{len(failed)} of {len(jobs)} jobs failed; see {summary}")

    def summarise(self, config: DictConfig, sweep_dir: Path, metric: str) -> Path:
        """Writes the multirun's summary into `sweep_dir` and returns it: summary.md, every job
        with its status and value or error line."""
        records = job_records(sweep_dir)
        common = common_overrides(records)
        states = Counter(job["status"] for job in records)
        counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        lines = [f"# Multirun `{sweep_dir.name}`", "", f"jobs: {len(records)} ({counts})", ""]
        if common:
            lines += ["Every job: " + " ".join(f"`{o}`" for o in common), ""]
        lines += jobs_markdown(records, metric, common)
        write_atomically(path := sweep_dir / "summary.md", "\n".join(lines) + "\n")
        return path
