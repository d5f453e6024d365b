"""scripts/benchmark.py and the plain script it times run end to end (tiny sizes; the timings
themselves are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT, run_script

pytestmark = pytest.mark.slow


def test_benchmark_prints_one_table_and_writes_every_pair(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "benchmark.py"), "--rounds", "2"]
    command += ["--epochs", "1", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == report["machine"]["torch_threads"] == 1
    rows = {(row["section"], row["measure"], row["baseline_name"]): row for row in report["rows"]}
    sections = {section for section, _, _ in rows}
    assert sections == {"loader", "loop", "process", "peer", "gpu"}
    measured = [row for row in report["rows"] if row["project"]]
    assert len(measured) == 2 + 2 + 2 * 2 * 5 + (2 if torch.cuda.is_available() else 0)
    for row in measured:
        assert len(row["project"]) == len(row["baseline"]) == len(row["load"]) == 2  # rounds
        assert row["ratio_min"] <= row["ratio_median"] <= row["ratio_max"]
        assert min(row["project"] + row["baseline"]) > 0
        assert row["measure"] in result.stdout and row["baseline_name"] in result.stdout
    measures = ("wall time", "CPU time", "time to first step", "CPU to first step", "peak memory")
    for case in ("linear/regression", "cnn/digits, augmented"):
        for measure in measures:
            name = f"{case}, 1 epoch: {measure}"
            plain = rows[("process", name, "plain_train.py")]
            # The same runs of the project against the plain script with train.py's GC pause.
            paused = rows[("process", name, "plain_train.py, GC paused at import")]
            assert plain["project"] == paused["project"]
        # ... and a process of its own (peak memories could come out equal; wall times do not).
        wall = f"{case}, 1 epoch: wall time"
        paused_walls = rows[("process", wall, "plain_train.py, GC paused at import")]["baseline"]
        assert rows[("process", wall, "plain_train.py")]["baseline"] != paused_walls
    [peer] = [row for row in report["rows"] if row["section"] == "peer"]
    assert peer["note"] == "skipped: no --peer PATH" and not peer["project"]
    if not torch.cuda.is_available():
        [gpu] = [row for row in report["rows"] if row["section"] == "gpu"]
        assert gpu["note"].startswith("not measured")
    header = next(line for line in result.stdout.splitlines() if line.startswith("section"))
    assert "ratio [min-max]" in header and "load" in header
    assert "1 thread(s)" in result.stdout and "load average" in result.stdout


def test_the_plain_script_does_the_work_of_a_training_run(make_config, tmp_path: Path) -> None:
    """Same data, split, model and epochs: the plain script ends where `train` ends, and leaves
    the same kinds of files (checkpoints, a CSV log, the metrics)."""
    problem = SyntheticRegressionDataModule().problem
    np.savez(tmp_path / "data.npz", features=problem.features, targets=problem.targets)
    clock = tmp_path / "clock.json"
    result = run_script(
        tmp_path,
        "scripts/plain_train.py",
        *("--data", "data.npz", "--epochs", "5", "--out", "plain", "--clock", str(clock)),
    )
    assert result.returncode == 0, result.stderr
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert {p.name for p in (tmp_path / "plain").iterdir()} == {
        "best.pt",
        "last.pt",
        "metrics.csv",
        "metrics.json",
    }
    first_step = json.loads(clock.read_text())
    assert first_step["first_step"] > 0 and first_step["cpu"] > 0
    project = train(make_config("trainer.max_epochs=5", "logger=csv"))
    for metric in ("test/r2", "val/r2"):
        assert plain[metric] > 0.99 and project[metric] > 0.99
    assert plain["test/mse"] == pytest.approx(project["test/mse"], rel=0.3)  # the noise floor
