"""The callbacks, debug, experiment and local groups, each trained or composed for real."""

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from lightning.pytorch import callbacks as cb

from {{ cookiecutter.package_name }}.build import build_group
from {{ cookiecutter.package_name }}.callbacks import (
    CheckpointOnSigterm,
    OptionalLearningRateMonitor,
    StopOnNonFiniteLoss,
)
from {{ cookiecutter.package_name }}.config import config_dir
from {{ cookiecutter.package_name }}.training import train

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def test_default_callbacks(make_config) -> None:
    built = [*build_group("callbacks", make_config().callbacks).values()]
    expected = [cb.ModelCheckpoint, cb.ModelCheckpoint, cb.EarlyStopping]
    expected += [OptionalLearningRateMonitor, cb.RichProgressBar, cb.RichModelSummary]
    expected += [StopOnNonFiniteLoss, CheckpointOnSigterm]
    assert [type(callback) for callback in built] == expected
    best, last, early_stopping = built[:3]
    assert best.monitor == early_stopping.monitor == "val/loss"
    assert last.monitor is None and last.filename == "last"  # saved after every epoch


def test_default_callbacks_train_without_a_logger(make_config) -> None:
    metrics = train(make_config("logger=none", "debug=limit", "trainer.max_epochs=1"))
    assert "test/loss" in metrics


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_experiment_trains(make_config, experiment: str) -> None:
    cfg = make_config(f"experiment={experiment}", "debug=fdr")
    assert cfg.trainer.fast_dev_run  # debug is applied after the experiment
    assert "test/loss" in train(cfg)


def test_at_least_two_experiments_with_a_reason() -> None:
    assert len(EXPERIMENTS) >= 2
    for name in EXPERIMENTS:
        text = (config_dir() / "experiment" / f"{name}.yaml").read_text()
        assert "# Why: " in text and f"experiment={name}" in text


def test_debug_limit_runs_a_few_batches(make_config, tmp_path: Path) -> None:
    cfg = make_config("debug=limit")
    train(cfg)
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert len([row for row in rows[1:] if row.split(",")[0] in "012"]) >= 3
    assert cfg.trainer.limit_train_batches == 5


def test_debug_profiler_writes_a_report(make_config, tmp_path: Path) -> None:
    train(make_config("debug=profiler", "trainer.limit_train_batches=2", "test=false"))
    [report] = tmp_path.glob("*profile*.txt")
    assert "Action" in report.read_text()


def test_debug_overfit_and_anomaly_set_the_trainer(make_config) -> None:
    overfit = make_config("debug=overfit")
    assert overfit.trainer.overfit_batches == 2 and overfit.callbacks.early_stopping is None
    assert make_config("debug=anomaly").trainer.detect_anomaly is True


def test_local_overrides_apply_when_present(tmp_path: Path) -> None:
    conf = shutil.copytree(config_dir(), tmp_path / "conf")
    with initialize_config_dir(config_dir=str(conf)):
        assert compose(config_name="train").seed == 42  # no local file: nothing changes
    (conf / "local" / "default.yaml").write_text("# @package _global_\nseed: 123\n")
    with initialize_config_dir(config_dir=str(conf)):
        assert compose(config_name="train").seed == 123
        assert compose(config_name="train", overrides=["seed=5"]).seed == 5  # CLI still wins


def test_local_files_are_not_tracked() -> None:
    gitignore = (config_dir().parent / ".gitignore").read_text().splitlines()
    assert "/conf/local/*.yaml" in gitignore
