"""Resuming, evaluating and predicting from checkpoints, and what each run records."""

import csv
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.callbacks import CheckpointOnSigterm
from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.errors import ConfigError, describe
from {{ cookiecutter.package_name }}.evaluation import evaluate
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.runs import atomic_open, git_state
from {{ cookiecutter.package_name }}.runs.checks import find_checkpoint
from {{ cookiecutter.package_name }}.training import train

from .conftest import CONFIG_DIR, PROJECT_ROOT, compose_config, error_line, run_script

QUICK = ("callbacks=model_checkpoint", "logger=none", "trainer.deterministic=true")


def run_config(log_dir: Path, name: str, *overrides: str):
    """A config whose run directory is log_dir/runs/<name>, as the CLI lays runs out."""
    cfg = compose_config(log_dir / "runs" / name, *QUICK, *overrides)
    with open_dict(cfg):
        cfg.paths.log_dir = str(log_dir)
    return cfg


def test_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    full = train(run_config(logs, "a_full", "trainer.max_epochs=4", "test=false"))
    train(run_config(logs, "b_first_half", "trainer.max_epochs=2", "test=false"))
    continued = logs / "runs" / "b_first_half" / "checkpoints"
    first_half_saved = (continued / "last.ckpt").stat().st_mtime_ns
    # `last` is the newest last.ckpt: b_first_half, trained after a_full.
    resumed = train(run_config(logs, "c_resumed", "trainer.max_epochs=4", "ckpt_path=last"))
    for name in ("train/loss", "val/loss", "val/r2", "val/loss_best"):
        assert resumed[name] == full[name], name
    assert resumed["test/loss"] > 0  # and the resumed run still tests its best checkpoint
    # Checkpoints continue where they were, so the best over all epochs is remembered.
    assert not (logs / "runs" / "c_resumed" / "checkpoints").exists()
    assert (continued / "last.ckpt").stat().st_mtime_ns > first_half_saved


class SigtermInValidation(Callback):
    """Sends this process SIGTERM during the first epoch's validation, after its last training
    batch: Lightning stops after the validation batch, and CheckpointOnSigterm saves."""

    def on_validation_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not trainer.sanity_checking and not trainer.received_sigterm:
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_run_stopped_after_its_epochs_last_batch_resumes(tmp_path: Path) -> None:
    """The resumed epoch has no training batch left: it ends (validation, checkpoints) without
    computing training metrics over no batch, which R2Score refuses."""
    cfg = run_config(tmp_path / "logs", "a", "trainer.max_epochs=2", "data.batch_size=16")
    saved = CheckpointOnSigterm(str(tmp_path / "stopped"))
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[SigtermInValidation(), saved],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(SIGTERMException):
        trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.data))
    checkpoint = torch.load(saved.ckpt_path, weights_only=True)
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == trainer.num_training_batches
    resumed = train(
        run_config(tmp_path / "logs", "b", "trainer.max_epochs=2", f"ckpt_path={saved.ckpt_path}")
    )
    assert resumed["val/loss"] > 0 and resumed["train/loss"] > 0  # epoch 1's, trained in full


def first_epoch_logged(run_dir: Path) -> int:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return min(int(row["epoch"]) for row in csv.DictReader(file) if row.get("epoch"))


def saved_epoch(path: Path) -> int:
    return torch.load(path, weights_only=True)["epoch"]


def test_last_checkpoint_is_the_latest_epoch_even_when_the_metric_gets_worse(tmp_path) -> None:
    # At lr 0.9 the validation loss is best after the first epoch and worse after the others.
    logs = tmp_path / "logs"
    train(run_config(logs, "a", "model.optimizer.lr=0.9", "trainer.max_epochs=3", "test=false"))
    checkpoints = logs / "runs" / "a" / "checkpoints"
    [best] = checkpoints.glob("best-*.ckpt")
    assert saved_epoch(best) == 0
    assert saved_epoch(checkpoints / "last.ckpt") == 2  # the end of the last epoch, not the best
    resumed = run_config(logs, "b", "ckpt_path=last", "trainer.max_epochs=4", "logger=csv")
    train(resumed)
    assert first_epoch_logged(logs / "runs" / "b") == 3  # it goes on from there
    assert saved_epoch(checkpoints / "last.ckpt") == 3


def test_fast_dev_run_writes_no_checkpoint(make_config, tmp_path: Path) -> None:
    train(make_config("debug=fdr", "logger=none"))
    assert not list(tmp_path.rglob("*.ckpt"))  # its one-step model can never become `last`


def test_debug_runs_have_a_folder_of_their_own(tmp_path: Path) -> None:
    for debug in ("fdr", "overfit", "limit", "profiler", "anomaly"):
        with initialize_config_dir(config_dir=CONFIG_DIR):
            cfg = compose(
                config_name="train",
                overrides=[f"debug={debug}", f"paths.log_dir={tmp_path}"],
                return_hydra_config=True,
            )
        assert Path(cfg.hydra.run.dir).parent == tmp_path / "debug", debug
        assert Path(cfg.hydra.sweep.dir).parent == tmp_path / "debug" / "multiruns", debug


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real last.ckpt, copied below wherever runs would have left one."""
    output_dir = tmp_path_factory.mktemp("one_epoch")
    train(compose_config(output_dir, *QUICK, "trainer.max_epochs=1", "test=false"))
    return output_dir / "checkpoints" / "last.ckpt"


def test_ckpt_path_last_is_the_newest_of_runs_multiruns_and_sweeps(
    checkpoint_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folders = ["runs/a", "multiruns/b/0", "sweeps/search/1_c", "debug/d"]  # oldest first
    for age, folder in enumerate(reversed(folders)):
        path = tmp_path / folder / "checkpoints" / "last.ckpt"
        path.parent.mkdir(parents=True)
        shutil.copy(checkpoint_file, path)
        os.utime(path, (1e9 - age * 10, 1e9 - age * 10))
    newest = tmp_path / "sweeps/search/1_c/checkpoints/last.ckpt"  # debug/d is newer: skipped
    with caplog.at_level(logging.INFO):
        assert find_checkpoint("last", tmp_path) == str(newest.resolve())
    assert f"ckpt_path=last: {newest.resolve()}" in caplog.text  # it says which it took
    multirun = tmp_path / "multiruns/b/0/checkpoints/last.ckpt"
    # A multirun's own jobs are skipped: job 1 must not resume from job 0.
    assert find_checkpoint("last", tmp_path, skip=tmp_path / "sweeps") == str(multirun.resolve())
    os.utime(newest, (1e8, 1e8))
    assert find_checkpoint("last", tmp_path) == str(multirun.resolve())


def test_a_run_folder_refuses_another_config(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    train(run_config(logs, "a", "trainer.max_epochs=1"))
    folder = logs / "runs" / "a"
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*")}
    with pytest.raises(ConfigError) as refused:
        train(run_config(logs, "a", "trainer.max_epochs=1", "model.optimizer.lr=0.001"))
    assert f"{folder} holds a run of another config" in str(refused.value)
    assert "model.optimizer.lr=0.001 (was 0.1)" in str(refused.value)
    with pytest.raises(ConfigError, match="model.net._target_=.*MLP"):
        train(run_config(logs, "a", "trainer.max_epochs=1", "model=mlp"))
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*")} == before


def test_a_finished_run_started_again_says_so_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = tmp_path / "logs"
    first = train(run_config(logs, "a", "trainer.max_epochs=1"))
    folder = logs / "runs" / "a"
    before = {path: path.stat().st_mtime_ns for path in folder.rglob("*")}
    assert train(run_config(logs, "a", "trainer.max_epochs=1")) == first
    assert f"{folder} holds this config's finished run: nothing to train" in caplog.text
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*")} == before


def test_a_write_that_fails_midway_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(OSError) as failed, atomic_open(path) as file:
        file.write("half of the new ")
        raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk would
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert str(describe(failed.value)).startswith(f"cannot write {path}: No space left on device")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    output_dir = tmp_path_factory.mktemp("trained")
    metrics = train(compose_config(output_dir, *QUICK, "trainer.max_epochs=3"))
    return output_dir, metrics


def test_eval_reproduces_the_test_metrics_of_the_best_checkpoint(trained, tmp_path: Path) -> None:
    run_dir, metrics = trained
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    cfg = compose_config(tmp_path, *QUICK, f"ckpt_path={best}")
    evaluated = evaluate(cfg)
    for name in ("test/loss", "test/r2"):
        assert evaluated[name] == pytest.approx(metrics[name], rel=1e-6)
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(evaluated)


def test_predict_writes_one_row_per_sample_of_the_split(trained, tmp_path: Path) -> None:
    run_dir, metrics = trained
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    cfg = compose_config(tmp_path, *QUICK, f"ckpt_path={best}")
    with open_dict(cfg):
        cfg.split = "test"
    path = predict(cfg)
    assert path == tmp_path / "predictions_test.csv"
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == round(cfg.data.num_samples * cfg.data.test_fraction)
    errors = [(float(r["prediction_0"]) - float(r["target_0"])) ** 2 for r in rows]
    assert sum(errors) / len(errors) == pytest.approx(metrics["test/mse"], rel=1e-4)


def test_eval_takes_the_model_and_data_from_the_checkpoint(trained, tmp_path: Path) -> None:
    run_dir, metrics = trained
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    # Composed for another model and data: the checkpoint's own settings replace them.
    cfg = compose_config(tmp_path, *QUICK, f"ckpt_path={best}", "model=mlp", "data=digits")
    evaluated = evaluate(cfg)
    assert evaluated["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-6)
    assert "Linear" in (tmp_path / "config_resolved.yaml").read_text()


def test_resuming_with_another_model_says_the_weights_do_not_fit(trained, tmp_path) -> None:
    run_dir, _ = trained
    last = run_dir / "checkpoints" / "last.ckpt"
    cfg = compose_config(tmp_path, *QUICK, f"ckpt_path={last}", "model=mlp", "trainer.max_epochs=5")
    with pytest.raises(RuntimeError, match="Error.s. in loading state_dict") as raised:
        train(cfg)  # the checkpoint holds the linear model's weights
    assert "do not fit the configured model" in str(describe(raised.value))


def test_predict_refuses_several_processes(trained, tmp_path: Path) -> None:
    run_dir, _ = trained
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    cfg = compose_config(tmp_path, *QUICK, f"ckpt_path={best}", "trainer=ddp_sim")
    with open_dict(cfg):
        cfg.split = "val"
    with pytest.raises(ConfigError, match="predict.py runs in one process"):
        predict(cfg)  # each process would otherwise predict only its shard of the split


def test_predict_rejects_an_unknown_split(trained, tmp_path: Path) -> None:
    cfg = compose_config(tmp_path, "ckpt_path=last")
    with open_dict(cfg):
        cfg.split = "holdout"
    with pytest.raises(ConfigError, match="split=holdout is not a split; use one of"):
        predict(cfg)


def test_eval_without_a_checkpoint_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a checkpoint: add ckpt_path="):
        evaluate(compose_config(tmp_path))


def test_run_records_resolved_config_and_versions(trained) -> None:
    run_dir, _ = trained
    assert "max_epochs: 3" in (run_dir / "config_resolved.yaml").read_text()
    assert "${" not in (run_dir / "config_resolved.yaml").read_text()
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["packages"]["torch"] and info["packages"]["lightning"]
    assert set(info["git"]) == {"commit", "dirty"}


def test_git_state_reports_the_commit_and_uncommitted_changes(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert git_state(tmp_path) == {"commit": None, "dirty": None}  # not a repository
    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "first")
    assert git_state(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True


@pytest.mark.slow
def test_train_resume_eval_and_predict_from_the_command_line(tmp_path: Path) -> None:
    def run(script: str, *overrides: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / script), *overrides],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result

    run("train.py", "trainer.max_epochs=2", "logger=none")
    [first] = (tmp_path / "logs" / "runs").glob("*/checkpoints/last.ckpt")
    run("train.py", "debug=limit", "logger=none")  # debug runs never become `last`
    run("train.py", "debug=fdr", "logger=none")
    resumed = run("train.py", "ckpt_path=last", "trainer.max_epochs=3", "logger=none")
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    assert f"ckpt_path=last: {first.resolve()}" in resumed.stdout  # it says which it took
    assert saved_epoch(first) == 2  # the resumed run's third epoch, saved where it resumed
    evaluated = run("eval.py", "ckpt_path=last")
    assert "Test metrics" in evaluated.stdout and "test/r2" in evaluated.stdout
    assert f"ckpt_path=last: {first.resolve()}" in evaluated.stdout
    run("predict.py", "ckpt_path=last", "split=val")
    runs = sorted((tmp_path / "logs" / "runs").iterdir())
    assert len(runs) == 4
    assert (runs[-1] / "predictions_val.csv").is_file()
    assert len((runs[-1] / "predictions_val.csv").read_text().splitlines()) == 201


@pytest.mark.slow
def test_a_run_folder_holds_one_config_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    command = (f"hydra.run.dir={folder}", "trainer.max_epochs=2", "logger=csv")
    assert run_script(tmp_path, "train.py", *command).returncode == 0
    written = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    other_lr = error_line(run_script(tmp_path, "train.py", *command, "model.optimizer.lr=0.001"))
    assert f"{folder} holds a run of another config (model.optimizer.lr=0.001" in other_lr
    other_model = error_line(run_script(tmp_path, "train.py", *command, "model=mlp"))
    assert "holds a run of another config (model.net._target_=" in other_model
    # Refused before anything was written: the first run's config, log and metrics are its own.
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == written
    again = run_script(tmp_path, "train.py", *command)
    assert again.returncode == 0, again.stderr
    assert "holds this config's finished run: nothing to train" in again.stdout + again.stderr
    assert (folder / "metrics.json").read_bytes() == written[folder / "metrics.json"]
    assert (folder / "csv" / "metrics.csv").read_bytes() == written[folder / "csv" / "metrics.csv"]
