"""The summary of a search, from real Optuna studies in SQLite files (no training involved)."""

import warnings
from pathlib import Path

import optuna
import pytest

from {{ cookiecutter.package_name }}.search.summary import main, write_summary
from {{ cookiecutter.package_name }}.search.sweeper import redacted


def run_trials(study: optuna.Study, *xs: float) -> None:
    """One trial per x, in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for x in xs:
            study.enqueue_trial({"x": x})
        study.optimize(quadratic, n_trials=len(xs), catch=(RuntimeError,))


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    if x > 3.0:
        raise RuntimeError("x too large")
    return (x - 1.0) ** 2


@pytest.fixture
def storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(
        study_name="quad", storage=url, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    run_trials(study, 3.5, 1.5, -2.0)  # fails, the best, completes
    return url


def test_summary_lists_best_and_every_trial(storage: str, tmp_path: Path) -> None:
    summary = write_summary(storage, "quad", tmp_path / "out", metric="val/loss").read_text()
    assert "minimize `val/loss`; trials: 3 (2 COMPLETE, 1 FAIL)" in summary
    assert "Best trial: #1, val/loss = 0.25" in summary and "- `x=1.5`" in summary
    assert "| 0 | FAIL |  | 3.5 |" in summary
    assert "| 2 | COMPLETE | 9 | -2 |" in summary
    csv_lines = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert csv_lines[0] == "number,state,value,params_x,duration" and len(csv_lines) == 4
    assert (tmp_path / "out" / "optimization_history.png").read_bytes()[:4] == b"\x89PNG"


def test_a_study_without_completed_trials_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'failed.db'}"
    study = optuna.create_study(study_name="broken", storage=url)
    run_trials(study, 3.5)
    summary = write_summary(url, "broken", tmp_path / "out").read_text()
    assert "No trial completed." in summary and "| 0 | FAIL |" in summary


def test_an_unknown_study_name_is_one_clear_error(storage: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no study 'other'.*study_name"):
        main([storage, "other", str(tmp_path / "out")])


def test_pruned_trials_show_how_far_they_got(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'curves.db'}"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    study = optuna.create_study(study_name="curves", storage=url, pruner=pruner)

    def curve(trial: optuna.Trial) -> float:  # a loss that falls per epoch from 1 + x
        x = trial.suggest_float("x", 0.0, 1.0)
        for epoch in range(4):
            trial.report(x + 1 / (epoch + 1), step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x + 0.25

    for x in (0.1, 0.2, 0.9):  # the third is behind the median of the first two at epoch 0
        study.enqueue_trial({"x": x})
    study.optimize(curve, n_trials=3)
    summary = write_summary(url, "curves", tmp_path / "out", metric="val/loss").read_text()
    assert "trials: 3 (2 COMPLETE, 1 PRUNED)" in summary
    assert "| trial | state | val/loss | x | epochs | seconds |" in summary
    assert "| 0 | COMPLETE | 0.35 | 0.1 | 4 |" in summary
    assert "| 2 | PRUNED | 1.9 | 0.9 | 1 |" in summary  # its value: the last it reported
    assert (tmp_path / "out" / "intermediate_values.png").read_bytes()[:4] == b"\x89PNG"


def test_each_retry_shows_beside_the_lost_trial_it_replaces(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lost.db'}"
    study = optuna.create_study(study_name="lost", storage=url)
    study.enqueue_trial({"x": 1.5})
    lost = study.ask({"x": optuna.distributions.FloatDistribution(-4.0, 4.0)})
    study.tell(lost, state=optuna.trial.TrialState.FAIL)  # as the heartbeat fails it
    for _ in range(2):  # the retry is lost in turn, then runs
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(study, study.trials[-1])
        if len(study.trials) < 3:
            study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    study.optimize(quadratic, n_trials=1)
    summary = write_summary(url, "lost", tmp_path / "out").read_text()
    assert "| trial | state | value | x | seconds | retry |" in summary
    assert "| 0 | FAIL |  | 1.5 |" in summary and "| retried as #1 |" in summary
    assert "| 1 | FAIL |  | 1.5 |" in summary and "| retry of #0, retried as #2 |" in summary
    assert "| 2 | COMPLETE | 0.25 | 1.5 |" in summary
    assert summary.endswith("| retry of #1 |\n")


def test_a_database_password_shows_as_stars() -> None:
    url = "postgresql+psycopg2://optuna:s3cret@db.example:5432/optuna"
    assert redacted(url) == "postgresql+psycopg2://optuna:***@db.example:5432/optuna"
