"""`python train.py` as a user runs it, in a fresh process."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def run_train(cwd: Path, *overrides: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "train.py"), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | env,
        timeout=300,
    )


def test_train_writes_a_complete_run_directory(tmp_path: Path) -> None:
    result = run_train(tmp_path, "model=linear", "trainer=cpu", "trainer.max_epochs=5")
    assert result.returncode == 0, result.stderr
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "train.log").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert len(list((run_dir / "checkpoints").glob("best-epoch*.ckpt"))) == 1
    header = (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "step", "val/loss"} <= set(header)
    assert (run_dir / "metrics.json").is_file()
    assert "Final metrics" in result.stdout and "test/r2" in result.stdout
    log_text = (run_dir / "train.log").read_text()
    assert str(run_dir.resolve()) in log_text
    assert "GPU available:" in log_text, "Lightning's own messages belong in train.log too"
    # The run reports the best monitored value, the one of the checkpoint it tested.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with (run_dir / "csv" / "metrics.csv").open() as file:
        val_losses = [float(row["val/loss"]) for row in csv.DictReader(file) if row["val/loss"]]
    assert metrics["val/loss_best"] == pytest.approx(min(val_losses), rel=1e-5)


@pytest.mark.parametrize(
    ("overrides", "fix"),
    [
        (("model=mlp", "model.net.activation=Relu"), "use a class name such as ReLU"),
        (("data=csv", "data.path=missing.csv"), "point it at your CSV file"),
    ],
)
def test_errors_raised_while_building_the_run_are_one_clear_line(
    tmp_path: Path, overrides: tuple[str, ...], fix: str
) -> None:
    result = run_train(tmp_path, *overrides)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "InstantiationException" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert fix in line
    assert not list(tmp_path.glob("logs/runs/*/metrics.json")), "no run may look complete"


def test_gpu_trainer_without_a_gpu_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = run_train(tmp_path, "trainer=gpu", CUDA_VISIBLE_DEVICES="")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "CUDA GPU" in line and "trainer=cpu" in line


def test_print_config_without_running(tmp_path: Path) -> None:
    result = run_train(tmp_path, "--cfg", "job", "model=mlp")
    assert result.returncode == 0, result.stderr
    assert "hidden_sizes" in result.stdout and "_target_" in result.stdout
    assert not (tmp_path / "logs").exists()


def test_runs_started_together_get_their_own_directories(tmp_path: Path) -> None:
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "trainer.max_epochs=1"]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()
    run_dirs = list((tmp_path / "logs" / "runs").iterdir())
    assert len(run_dirs) == 2
    assert all((run_dir / "metrics.json").is_file() for run_dir in run_dirs)


def test_train_digits_and_a_csv_from_the_command_line(tmp_path: Path) -> None:
    result = run_train(tmp_path, "data=digits", "model=linear", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr
    assert "test/acc" in result.stdout and "test/f1" in result.stdout
    table = tmp_path / "table.csv"
    table.write_text("x,y\n" + "".join(f"{i},{3 * i + 1}\n" for i in range(50)))
    result = run_train(tmp_path, "data=csv", f"data.path={table}", "data.target_column=y")
    assert result.returncode == 0, result.stderr
    assert "test/r2" in result.stdout


def test_csv_mistakes_stop_with_one_clear_line(tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("x,y\n1,2\n")
    for override, expected in [
        ("data.path=missing.csv", "data.path=missing.csv does not exist"),
        (f"data.path={table}", "has no column 'target'"),
    ]:
        result = run_train(tmp_path, "data=csv", override)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert expected in line
