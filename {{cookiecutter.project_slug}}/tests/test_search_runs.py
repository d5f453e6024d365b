"""Real searches through `python train.py -m hparams_search=...`: pruning, failures, resuming,
and parallel trials (a trial's checkpoint evaluated afterwards: test_search_recipes.py)."""

import csv
import json
import re
from pathlib import Path

import optuna
import pytest
import yaml

from .conftest import (
    QUICK,
    console_script,
    error_line,
    free_port,
    http_get,
    run_train,
    serving,
)

pytestmark = pytest.mark.slow

SEARCH = ("hparams_search=regression_optuna", *QUICK)
STUDY = "regression_optuna"


def sweep_dir(cwd: Path, study: str = STUDY) -> Path:
    return cwd / "logs" / "sweeps" / study


def load_study(cwd: Path, study: str = STUDY) -> optuna.Study:
    storage = f"sqlite:///{sweep_dir(cwd, study) / 'study.db'}"
    return optuna.load_study(study_name=study, storage=storage)


def trial_dirs(cwd: Path, study: str = STUDY) -> list[Path]:
    return sorted(p for p in sweep_dir(cwd, study).iterdir() if (p / ".hydra").is_dir())


def trial_value(trial: optuna.trial.FrozenTrial) -> float:
    assert trial.value is not None, f"trial {trial.number} has no value"
    return trial.value


def trial_pid(run_dir: Path) -> str:
    """The process id that the trial in run_dir logged."""
    match = re.search(r"Trial runs in process (\d+)", (run_dir / "train.log").read_text())
    assert match is not None, f"no process id in {run_dir / 'train.log'}"
    return match[1]


def overrides_of(run_dir: Path) -> list[str]:
    return yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())


def test_optuna_search_beats_its_worst_trial(tmp_path: Path) -> None:
    result = run_train(tmp_path, *SEARCH, "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stderr
    study = load_study(tmp_path)
    assert study.metric_names == ["val/loss"]  # optuna-dashboard's name for the objective
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    best = min(trials, key=trial_value)
    worst = max(trials, key=trial_value)
    assert trial_value(best) < trial_value(worst)
    assert best.params["model.optimizer.lr"] != worst.params["model.optimizer.lr"]
    # The value the sweeper saw is the trial's own val/loss, from its own run directory.
    [best_dir] = [d for d in trial_dirs(tmp_path) if d.name.startswith(f"{best.number}_")]
    metrics = yaml.safe_load((best_dir / "metrics.json").read_text())
    assert metrics["val/loss"] == pytest.approx(best.value)
    summary = (sweep_dir(tmp_path) / "summary.md").read_text()
    assert f"Best trial: #{best.number}" in summary
    assert summary.count("| COMPLETE |") == 3
    assert (sweep_dir(tmp_path) / "optimization_history.png").read_bytes()[:4] == b"\x89PNG"
    assert len((sweep_dir(tmp_path) / "trials.csv").read_text().splitlines()) == 4


@pytest.fixture(scope="module")
def pruned_search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study of two trials: a good one, then one 10^4 times slower to learn, which the pruner
    stops (pruning from the second trial on, after one warm-up epoch)."""
    cwd = tmp_path_factory.mktemp("pruning")
    pruner = "callbacks.optuna_pruning.pruner"
    early = (f"{pruner}.n_startup_trials=1", f"{pruner}.n_warmup_steps=1")
    for lr in (0.1, 0.00001):
        result = run_train(
            cwd, *SEARCH, "trainer.max_epochs=6", *early, "hydra.sweeper.n_trials=1",
            f"model.optimizer.lr={lr}", "logger=csv",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return cwd


def test_a_trial_far_behind_the_others_is_pruned(pruned_search: Path) -> None:
    completed, pruned = load_study(pruned_search).trials
    assert (completed.state.name, pruned.state.name) == ("COMPLETE", "PRUNED")
    assert sorted(completed.intermediate_values) == list(range(6))  # val/loss of every epoch
    assert sorted(pruned.intermediate_values) == [0, 1]  # stopped after its warm-up epoch
    assert pruned.value == pruned.intermediate_values[1] > completed.intermediate_values[1]
    first, second = trial_dirs(pruned_search)
    assert "++trial=0" in overrides_of(first) and "++trial=1" in overrides_of(second)
    log_text = (second / "train.log").read_text()
    assert (
        "Trial pruned: Trial was pruned at epoch 1" in log_text and "Trial failed" not in log_text
    )
    assert not (second / "metrics.json").exists()
    # Pruned is not failed: the command exits 0 (checked above) and lists no failed trial.
    assert json.loads((second / "job.json").read_text())["status"] == "PRUNED"
    summary = (sweep_dir(pruned_search) / "summary.md").read_text()
    assert "## Failed trials" not in summary
    assert "trials: 2 (1 COMPLETE, 1 PRUNED)" in summary and "Best trial: #0" in summary
    assert "| 1 | PRUNED |" in summary and "| epochs |" in summary
    assert (sweep_dir(pruned_search) / "intermediate_values.png").read_bytes()[:4] == b"\x89PNG"
    # The pruned run's log holds the epochs it trained, ending where the pruner stopped it.
    with (second / "csv" / "metrics.csv").open() as file:
        losses = [float(row["val/loss"]) for row in csv.DictReader(file) if row["val/loss"]]
    assert losses[-1] == pytest.approx(pruned.intermediate_values[1]) and len(losses) == 2


def test_optuna_dashboard_serves_the_study(pruned_search: Path) -> None:
    port = free_port()
    storage = f"sqlite:///{sweep_dir(pruned_search) / 'study.db'}"
    command = [*console_script("optuna-dashboard"), storage, "--host", "127.0.0.1"]
    with serving([*command, "--port", str(port)], f"http://127.0.0.1:{port}/api/studies"):
        status, body = http_get(f"http://127.0.0.1:{port}/api/studies")
        assert status == 200 and f'"study_name": "{STUDY}"' in body.replace('":"', '": "')
        status, page = http_get(f"http://127.0.0.1:{port}/dashboard")
        assert status == 200 and "<html" in page.lower()


def test_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # Three learning rates: a negative one fails the config check inside its own trial, a huge
    # one diverges to a non-finite loss, the sensible one completes. Seed 1 of the random
    # sampler draws each once, failing first.
    result = run_train(
        tmp_path,
        *SEARCH,
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=1",
        "hydra.sweeper.n_trials=3",
        "model.optimizer.lr=0.1,-1.0,1000000.0",
        "data.batch_size=32",
    )
    assert result.returncode == 0, result.stderr
    trials = load_study(tmp_path).trials
    states = {t.params["model.optimizer.lr"]: t.state.name for t in trials}
    assert states == {0.1: "COMPLETE", -1.0: "FAIL", 1000000.0: "FAIL"}
    summary = (sweep_dir(tmp_path) / "summary.md").read_text()
    assert summary.count("| FAIL |") == 2 and "1 COMPLETE, 2 FAIL" in summary
    logs = {
        next(o for o in overrides_of(d) if o.startswith("model.optimizer.lr=")): (
            d / "train.log"
        ).read_text()
        for d in trial_dirs(tmp_path)
    }
    assert "Trial failed" in logs["model.optimizer.lr=-1.0"]
    assert "model.optimizer.lr=-1.0 must be a positive number" in logs["model.optimizer.lr=-1.0"]
    assert "diverged" in logs["model.optimizer.lr=1000000.0"]
    assert "Trial failed" not in logs["model.optimizer.lr=0.1"]
    # The summary lists each failed trial's folder with its error line.
    failed = summary.split("## Failed trials", 1)[1]
    assert "model.optimizer.lr=-1.0 must be a positive number" in failed
    assert "diverged" in failed and failed.count("| FAILED |") == 2


def test_a_search_whose_every_trial_fails_ends_with_its_summary(tmp_path: Path) -> None:
    # The sweeper asks the study for its best trial at the end, which none is.
    result = run_train(
        tmp_path, *SEARCH, "hydra.sweeper.n_trials=2", "model.optimizer.lr=-1.0", full_error=False
    )
    summary = sweep_dir(tmp_path) / "summary.md"
    assert error_line(result) == f"Error: every job of the multirun failed (2); see {summary}"
    text = summary.read_text()
    assert "No trial completed." in text and "trials: 2 (2 FAIL)" in text
    assert text.split("## Failed trials")[1].count("lr=-1.0 must be a positive number") == 2


def test_the_same_command_again_resumes_the_study(tmp_path: Path) -> None:
    command = (*SEARCH, "hydra.sweeper.n_trials=2")
    for _ in range(2):
        result = run_train(tmp_path, *command)
        assert result.returncode == 0, result.stderr
    trials = load_study(tmp_path).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len(trial_dirs(tmp_path)) == 4  # resumed trials get new folders, none overwritten
    assert "trials: 4 (4 COMPLETE)" in (sweep_dir(tmp_path) / "summary.md").read_text()


def test_digits_search_runs_trials_in_parallel_with_the_joblib_launcher(tmp_path: Path) -> None:
    result = run_train(
        tmp_path,
        "hparams_search=digits_optuna",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_trials=2",
        "trainer=cpu",
        "trainer.max_epochs=10",  # long enough to overlap despite staggered worker starts
        "callbacks=none",
        "logger=none",
    )
    assert result.returncode == 0, result.stderr
    study = load_study(tmp_path, "digits_optuna")
    assert study.direction.name == "MAXIMIZE"  # accuracy: higher is better
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2
    assert all(0.0 < trial_value(t) <= 1.0 for t in study.trials)
    first, second = trial_dirs(tmp_path, "digits_optuna")
    pids = {trial_pid(d) for d in (first, second)}
    assert len(pids) == 2
    # Each trial's config is written when it starts, its metrics when it ends: the two overlap.
    started = [(d / ".hydra" / "config.yaml").stat().st_mtime for d in (first, second)]
    ended = [(d / "metrics.json").stat().st_mtime for d in (first, second)]
    assert started[0] < ended[1] and started[1] < ended[0]


def test_an_unknown_metric_stops_the_search_before_any_trial(tmp_path: Path) -> None:
    result = run_train(tmp_path, *SEARCH, "optimized_metric=val/accuracy")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "optimized_metric=val/accuracy" in line and "val/loss" in line
    assert not sweep_dir(tmp_path).exists()
