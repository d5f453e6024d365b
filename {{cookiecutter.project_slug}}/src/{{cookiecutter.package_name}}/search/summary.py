"""The summary of an Optuna study: best trial, every trial with its state, the plots, and the
failed trials' error lines (from the job.json in their folders).

Written at the end of each search by its multirun callback (SearchCallback); to rebuild it by
hand, for instance while a long search runs elsewhere:

    python -m <package>.search.summary sqlite:///logs/sweeps/regression_optuna/study.db \
        regression_optuna logs/sweeps/regression_optuna --metric val/loss
"""

import argparse
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed (clusters, CI)

import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from optuna.storages import RetryHeartbeatStaleTrialCallback  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from optuna.visualization.matplotlib import (  # noqa: E402
    plot_intermediate_values,
    plot_optimization_history,
)

from ..multirun import common_overrides, failed_jobs, job_records, jobs_markdown  # noqa: E402
from ..runs import atomic_open, write_atomically  # noqa: E402
from .sweeper import redacted  # noqa: E402 (also quiets Optuna's experimental warnings)


def write_summary(storage: str, study_name: str, out_dir: Path, metric: str = "value") -> Path:
    """Writes summary.md, trials.csv and the plots to out_dir; returns summary.md.

    The plots: optimization_history.png (each completed trial's value) and, when the trials
    reported per epoch (as pruning has them do), intermediate_values.png (every trial's curve,
    the pruned ones ending early). `metric` names the objective (e.g. `val/loss`) in the
    texts; the study does not record it.
    """
    study = optuna.load_study(study_name=study_name, storage=storage)
    table = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration"))
    write_atomically(out_dir / "trials.csv", table.to_csv(index=False))
    trials = study.trials
    states = Counter(trial.state.name for trial in trials)
    counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    lines = [
        f"# Sweep `{study.study_name}`",
        "",
        f"Storage: `{redacted(storage)}`; {study.direction.name.lower()} `{metric}`;"
        f" trials: {len(trials)} ({counts})",
        "",
    ]
    if states[TrialState.COMPLETE.name]:
        best = study.best_trial
        plot = plot_optimization_history(study, target_name=metric)
        _save_plot(plot, out_dir / "optimization_history.png")
        lines += [f"Best trial: #{best.number}, {metric} = {best.value:.6g}", ""]
        lines += [f"- `{name}={value}`" for name, value in best.params.items()]
        lines += ["", "![optimisation history](optimization_history.png)", ""]
    else:
        lines += ["No trial completed.", ""]
    if reported := any(trial.intermediate_values for trial in trials):
        _save_plot(plot_intermediate_values(study), out_dir / "intermediate_values.png")
        lines += ["![each trial per epoch](intermediate_values.png)", ""]
        if states[TrialState.PRUNED.name]:
            lines += [f"A PRUNED trial's {metric} is the last one it reported.", ""]
    names = sorted({name for trial in trials for name in trial.params})
    retries = _retries(trials)
    columns = ["trial", "state", metric, *names, *(["epochs"] if reported else []), "seconds"]
    columns += ["retry"] if retries else []
    lines += ["| " + " | ".join(columns) + " |", "| " + " | ".join(["---"] * len(columns)) + " |"]
    for trial in trials:
        seconds = trial.duration.total_seconds() if trial.duration else None
        values = [trial.value, *(trial.params.get(name) for name in names)]
        cells = [str(trial.number), trial.state.name, *map(_number, values)]
        cells += [str(len(trial.intermediate_values))] if reported else []
        cells.append(_number(seconds, ".1f"))
        cells += [retries.get(trial.number, "")] if retries else []
        lines.append("| " + " | ".join(cells) + " |")
    jobs = job_records(out_dir)  # each trial's folder holds its job.json
    if failed := failed_jobs(jobs):
        table = jobs_markdown(failed, metric, common_overrides(jobs))
        lines += ["", "## Failed trials", "", *table]
    write_atomically(summary := out_dir / "summary.md", "\n".join(lines) + "\n")
    return summary


def _save_plot(axes: Axes, path: Path) -> None:
    figure = axes.get_figure(root=True)
    assert figure is not None  # the axes belong to a figure of their own
    with atomic_open(path, "wb") as file:
        figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def _retries(trials: list[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """What the retry column says of each lost trial and of each trial that runs one again."""
    notes: dict[int, list[str]] = {}
    for trial in trials:
        # The trials it runs again, the one it replaces last.
        if lost := RetryHeartbeatStaleTrialCallback.retry_history(trial):
            notes.setdefault(lost[-1], []).append(f"retried as #{trial.number}")
            notes.setdefault(trial.number, []).insert(0, f"retry of #{lost[-1]}")
    return {number: ", ".join(note) for number, note in notes.items()}


def _number(value: object, spec: str = ".6g") -> str:
    if value is None:
        return ""
    return format(value, spec) if isinstance(value, float) else str(value)  # nan as "nan"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarise an Optuna study.")
    parser.add_argument("storage", help="e.g. sqlite:///logs/sweeps/regression_optuna/study.db")
    parser.add_argument("study_name", help="hydra.sweeper.study_name of the sweep")
    parser.add_argument("out_dir", type=Path, help="where summary.md and the plot go")
    parser.add_argument("--metric", default="value", help="the objective's name, e.g. val/loss")
    args = parser.parse_args(argv)
    try:
        summary = write_summary(args.storage, args.study_name, args.out_dir, args.metric)
    except KeyError:  # optuna's answer to an unknown study name
        raise SystemExit(
            f"Error: no study {args.study_name!r} in {args.storage}; the study name is"
            " hydra.sweeper.study_name of the sweep (its folder under logs/sweeps/)"
        ) from None
    print(summary.read_text())


if __name__ == "__main__":
    main()
