"""What a sweep trial returns and the checks made before the first trial, without training."""

import math

import pytest
from hydra import compose, initialize_config_dir

from {{ cookiecutter.package_name }}.checks import check_monitored_metric
from {{ cookiecutter.package_name }}.cli import CONFIG_DIR
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.sweeps import (
    TrialFailed,
    check_multirun,
    optuna_direction,
    run_trial,
)


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


def test_monitor_mode_becomes_an_optuna_direction() -> None:
    assert optuna_direction("min") == "minimize"
    assert optuna_direction("max") == "maximize"
    with pytest.raises(ValueError, match="min or max"):
        optuna_direction("down")


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
    check_multirun(multirun_config(*overrides, "hydra/launcher=slurm"))  # srun starts them
