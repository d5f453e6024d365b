"""Multiruns (`python train.py -m seed=1,2,3`): what each job returns and records, the checks
before the first job, the summary; in-process, then real multiruns in subprocesses (slow)."""

import json
import logging
import math
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.utils import JobReturn, JobStatus

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.multirun import (
    JobStopped,
    TrialFailed,
    check_multirun,
    failed_jobs,
    job_records,
    record_job,
    run_trial,
)
from {{ cookiecutter.package_name }}.runs.checks import check_monitored_metric

from .conftest import CONFIG_DIR, QUICK, error_line, run_train


def test_a_trial_returns_its_metric() -> None:
    assert run_trial(lambda: {"val/loss": 0.25, "val/r2": 0.9}, "val/r2") == 0.9


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_metric_fails_the_trial(value: float) -> None:
    with pytest.raises(TrialFailed, match="diverged"):
        run_trial(lambda: {"val/loss": value}, "val/loss")


def test_a_metric_the_run_did_not_report_fails_the_trial() -> None:
    with pytest.raises(TrialFailed, match="no 'val/acc'"):
        run_trial(lambda: {"val/loss": 1.0}, "val/acc")


def test_errors_inside_a_trial_are_logged_and_raised(caplog: pytest.LogCaptureFixture) -> None:
    def crash() -> dict[str, float]:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        run_trial(crash, "val/loss")
    assert "Trial failed" in caplog.text and "out of memory" in caplog.text


@pytest.mark.parametrize("metric", ["val/loss", "val/r2", "train/mae"])
def test_metrics_the_runs_log_are_accepted(metric: str) -> None:
    check_monitored_metric("optimized_metric", metric, "regression")


def test_the_best_validation_accuracy_may_be_optimised() -> None:
    check_monitored_metric("optimized_metric", "val/acc_best", "classification")


def test_an_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="val/accuracy is not logged.*did you mean val/acc"):
        check_monitored_metric("optimized_metric", "val/accuracy", "classification")
    with pytest.raises(ConfigError, match="choose one of: val/loss, val/mae, val/mse, val/r2"):
        check_monitored_metric("optimized_metric", "val/acc", "regression")


def test_trials_are_never_chosen_by_their_test_scores() -> None:
    with pytest.raises(ConfigError, match="must not be chosen by its test score; use val/r2"):
        check_monitored_metric("optimized_metric", "test/r2", "regression")


class CutShort(JobStopped):
    status = "CUT"


def test_a_job_stopped_on_purpose_is_logged_recorded_and_not_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def stopped() -> dict[str, float]:
        raise CutShort("behind the others at epoch 2")

    caplog.set_level(logging.INFO)
    with pytest.raises(CutShort):
        run_trial(stopped, "val/loss")
    assert "Trial cut: behind the others at epoch 2" in caplog.text
    assert "Trial failed" not in caplog.text
    outcomes = {"0": CutShort("behind"), "1": RuntimeError("out of memory"), "2": 0.5}
    for folder, outcome in outcomes.items():
        job = JobReturn()
        job.status = JobStatus.FAILED if isinstance(outcome, Exception) else JobStatus.COMPLETED
        job.return_value = outcome
        (tmp_path / folder).mkdir()
        record_job(tmp_path / folder, job, [f"seed={folder}"])
    records = job_records(tmp_path)
    assert [(r["status"], r["value"], r["error"]) for r in records] == [
        ("CUT", None, "CutShort: behind"),
        ("FAILED", None, "RuntimeError: out of memory"),
        ("COMPLETED", 0.5, None),
    ]
    assert [r["folder"] for r in failed_jobs(records)] == ["1"]


def multirun_config(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


def test_a_multirun_checks_the_monitored_metric_before_its_first_job() -> None:
    with pytest.raises(ConfigError, match="monitor.metric=val/accuracy is not logged"):
        check_multirun(multirun_config("monitor.metric=val/accuracy"))
    with pytest.raises(ConfigError, match="callbacks.early_stopping.monitor=val/r3 is not"):
        check_multirun(multirun_config("callbacks.early_stopping.monitor=val/r3"))


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork", "ddp_notebook"])
def test_a_local_multirun_may_use_strategies_that_start_their_own_processes(strategy) -> None:
    check_multirun(multirun_config("trainer=ddp_sim", f"trainer.strategy={strategy}"))


@pytest.mark.parametrize(
    "overrides",
    [
        ("trainer=ddp_sim",),
        ("trainer=ddp_sim", "trainer.strategy=auto"),  # Lightning then picks ddp
        ("trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=fsdp"),
        ("trainer=multinode", "trainer.accelerator=cpu"),
    ],
)
def test_strategies_that_rerun_the_command_line_are_refused_in_a_local_multirun(
    overrides: tuple[str, ...],
) -> None:
    with pytest.raises(ConfigError, match="use trainer.strategy=ddp_spawn"):
        check_multirun(multirun_config(*overrides))


def overrides_of(run_dir: Path) -> list[str]:
    return yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())


@pytest.mark.slow
def test_grid_multirun_runs_every_combination(tmp_path: Path) -> None:
    result = run_train(tmp_path, *QUICK, "model.optimizer.lr=0.1,0.01", "seed=1,2")
    assert result.returncode == 0, result.stderr
    [sweep] = (tmp_path / "logs" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    combinations = {tuple(overrides_of(job)[-2:]) for job in jobs}
    assert combinations == {
        (f"model.optimizer.lr={lr}", f"seed={seed}") for lr in (0.1, 0.01) for seed in (1, 2)
    }
    assert all((job / "metrics.json").is_file() for job in jobs)
    records = [json.loads((job / "job.json").read_text()) for job in jobs]
    assert [record["status"] for record in records] == ["COMPLETED"] * 4
    summary = (sweep / "summary.md").read_text()
    assert "jobs: 4 (4 COMPLETED)" in summary and summary.count("| COMPLETED |") == 4


@pytest.mark.slow
def test_a_failing_grid_job_is_listed_in_the_summary_with_its_error(tmp_path: Path) -> None:
    result = run_train(tmp_path, *QUICK, "model.optimizer.lr=0.1,-1.0,0.05", full_error=False)
    [sweep] = (tmp_path / "logs" / "multiruns").iterdir()
    summary = sweep / "summary.md"
    assert error_line(result) == f"Error: 1 of 3 jobs failed; see {summary}"
    text = summary.read_text()
    assert "jobs: 3 (2 COMPLETED, 1 FAILED)" in text
    [failed] = [line for line in text.splitlines() if "| FAILED |" in line]
    assert failed.startswith("| 1 | FAILED |  | `model.optimizer.lr=-1.0` |")
    assert "model.optimizer.lr=-1.0 must be a positive number" in failed
    assert json.loads((sweep / "2" / "job.json").read_text())["status"] == "COMPLETED"


@pytest.mark.slow
def test_a_monitor_typo_stops_a_multirun_before_any_job(tmp_path: Path) -> None:
    result = run_train(tmp_path, *QUICK, "monitor.metric=val/accuracy", "seed=1,2")
    assert "monitor.metric=val/accuracy is not logged by regression runs" in error_line(result)
    assert not (tmp_path / "logs").exists()


@pytest.mark.slow
def test_a_local_multirun_may_use_ddp_spawn(tmp_path: Path) -> None:
    ddp = ("trainer=ddp_sim", "trainer.strategy=ddp_spawn", "trainer.max_epochs=2", "test=false")
    result = run_train(tmp_path, *ddp, "data.num_samples=300", "logger=none", "seed=1,2")
    assert result.returncode == 0, result.stderr
    [sweep] = (tmp_path / "logs" / "multiruns").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [job.name for job in jobs] == ["0", "1"]
    for job in jobs:
        assert "1 node(s) x 2 device(s): world size 2" in (job / "train.log").read_text()
        assert json.loads((job / "metrics.json").read_text())["val/loss"] > 0
        assert (job / "checkpoints" / "last.ckpt").is_file()
