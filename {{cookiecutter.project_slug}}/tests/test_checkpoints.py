"""Resuming, evaluating and predicting from checkpoints, and what each run records."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.errors import ConfigError, describe
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.runs import git_state
from {{ cookiecutter.package_name }}.testing import evaluate
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT, compose_config

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
    # `last` is the newest run's last.ckpt: b_first_half (run names sort by start time).
    resumed = train(run_config(logs, "c_resumed", "trainer.max_epochs=4", "ckpt_path=last"))
    for name in ("train/loss", "val/loss", "val/r2", "val/loss_best"):
        assert resumed[name] == full[name], name
    assert resumed["test/loss"] > 0  # and the resumed run still tests its best checkpoint
    # Checkpoints continue where they were, so the best over all epochs is remembered.
    assert not (logs / "runs" / "c_resumed" / "checkpoints").exists()
    assert (continued / "last.ckpt").stat().st_mtime_ns > first_half_saved


def test_a_run_started_again_in_its_own_directory_continues(tmp_path: Path) -> None:
    # What a requeued SLURM job does: the same command, in the same directory, after preemption.
    logs = tmp_path / "logs"
    full = train(run_config(logs, "full", "trainer.max_epochs=4", "test=false"))
    train(run_config(logs, "requeued", "trainer.max_epochs=2", "test=false"))
    again = train(run_config(logs, "requeued", "trainer.max_epochs=4", "test=false"))
    assert again["val/loss"] == full["val/loss"]


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
    resumed = run("train.py", "ckpt_path=last", "trainer.max_epochs=3", "logger=none")
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    evaluated = run("eval.py", "ckpt_path=last")
    assert "Test metrics" in evaluated.stdout and "test/r2" in evaluated.stdout
    run("predict.py", "ckpt_path=last", "split=val")
    runs = sorted((tmp_path / "logs" / "runs").iterdir())
    assert len(runs) == 4
    assert (runs[-1] / "predictions_val.csv").is_file()
    assert len((runs[-1] / "predictions_val.csv").read_text().splitlines()) == 201
