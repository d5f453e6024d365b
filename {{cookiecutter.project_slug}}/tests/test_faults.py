"""Faults done to real runs: a NaN loss, SIGKILL and SIGTERM in the middle of training."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.errors import TrainingDiverged
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT

# Long enough never to finish by itself; the test stops it.
ENDLESS = ("trainer.max_epochs=100000", "callbacks.early_stopping=null", "logger=csv")


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(make_config, tmp_path):
    cfg = make_config("logger=none")
    with open_dict(cfg):  # epoch 0 trains at lr 0.1, then lr x 10^4 every epoch: divergence
        cfg.model.scheduler = {
            "_target_": "torch.optim.lr_scheduler.ExponentialLR",
            "_partial_": True,
            "gamma": 1e4,
        }
    with pytest.raises(TrainingDiverged, match="the training loss became (nan|inf)") as caught:
        train(cfg)
    assert "a lower model.optimizer.lr" in str(caught.value)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert str(tmp_path / "checkpoints" / "last.ckpt") in str(caught.value)
    assert last["epoch"] < int(str(caught.value).split("at epoch ")[1].split(",")[0])
    weights = [t for name, t in last["state_dict"].items() if name.startswith("net.")]
    assert weights and all(torch.isfinite(tensor).all() for tensor in weights)
    assert not (tmp_path / "metrics.json").exists()  # the run does not look complete


def start_training(cwd: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "train.py"), *ENDLESS, *overrides],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_epochs(run_root: Path, epochs: int, timeout: float = 120) -> Path:
    """The run's last.ckpt once it holds at least `epochs` finished epochs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in run_root.glob("logs/runs/*/checkpoints/last.ckpt"):
            try:
                if torch.load(path, weights_only=True)["epoch"] >= epochs - 1:
                    return path
            except Exception:  # being written right now: look again
                pass
        time.sleep(0.2)
    raise TimeoutError(f"no checkpoint with {epochs} epochs under {run_root}")


def resume(cwd: Path, max_epochs: int) -> tuple[subprocess.CompletedProcess, Path]:
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "train.py"),
            "ckpt_path=last",
            f"trainer.max_epochs={max_epochs}",
            "callbacks.early_stopping=null",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    newest = sorted((cwd / "logs" / "runs").iterdir())[-1]
    return result, newest


def first_epoch_logged(run_dir: Path) -> int:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return min(int(row["epoch"]) for row in csv.DictReader(file) if row.get("epoch"))


@pytest.mark.slow
def test_sigkill_loses_only_the_work_since_the_last_checkpoint(tmp_path: Path) -> None:
    process = start_training(tmp_path)
    wait_for_epochs(tmp_path, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    [killed_run] = (tmp_path / "logs" / "runs").iterdir()
    assert not (killed_run / "metrics.json").exists()  # killed: not a complete run
    saved_epoch = torch.load(killed_run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    result, resumed_run = resume(tmp_path, saved_epoch + 3)
    assert f"Resuming from {killed_run / 'checkpoints' / 'last.ckpt'}" in result.stdout
    # It carries on right after the saved epoch: nothing before the checkpoint is redone.
    assert first_epoch_logged(resumed_run) == saved_epoch + 1
    assert (resumed_run / "metrics.json").is_file()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    process = start_training(tmp_path)
    epoch_end = wait_for_epochs(tmp_path, 2)
    step_before = torch.load(epoch_end, weights_only=True)["global_step"]
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "Received SIGTERM: saved" in output and "Traceback" not in output
    saved = torch.load(epoch_end, weights_only=True)
    assert saved["global_step"] > step_before  # saved at the signal, not an old epoch end
    result, resumed_run = resume(tmp_path, saved["epoch"] + 2)
    assert "Restoring states from the checkpoint path" in result.stdout + result.stderr
    assert (resumed_run / "metrics.json").is_file()
