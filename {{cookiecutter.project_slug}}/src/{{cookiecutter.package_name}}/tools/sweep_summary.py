"""The summary of an Optuna study: best trial, every trial with its state, the history plot,
and the failed trials' error lines (from the job.json in their folders).

Written at the end of each search by the multirun callback (sweeps.py); to rebuild it by hand,
for instance while a long search runs elsewhere:

    python -m <package>.tools.sweep_summary sqlite:///logs/sweeps/regression_optuna/study.db \
        regression_optuna logs/sweeps/regression_optuna --metric val/loss
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed (clusters, CI)

import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from optuna.visualization.matplotlib import plot_optimization_history  # noqa: E402

from ..runs import atomic_open, write_atomically  # noqa: E402
from ..sweeps import common_overrides, job_records, jobs_markdown  # noqa: E402


def write_summary(storage: str, study_name: str, out_dir: Path, metric: str = "value") -> Path:
    """Writes summary.md, trials.csv and optimization_history.png to out_dir; returns summary.md.

    `metric` names the objective (e.g. `val/loss`) in the texts; the study does not record it.
    """
    study = optuna.load_study(study_name=study_name, storage=storage)
    out_dir.mkdir(parents=True, exist_ok=True)
    trials = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration"))
    write_atomically(out_dir / "trials.csv", trials.to_csv(index=False))
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if completed:
        figure = plot_optimization_history(study, target_name=metric).get_figure(root=True)
        assert figure is not None  # the axes belong to a figure of their own
        with atomic_open(out_dir / "optimization_history.png", "wb") as file:
            figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
    summary = out_dir / "summary.md"
    jobs = job_records(out_dir)  # each trial's folder holds its job.json
    failed = [job for job in jobs if job["status"] != "COMPLETED"]
    table = jobs_markdown(failed, metric, common_overrides(jobs))
    failures = ["", "## Failed trials", "", *table, ""] if failed else []
    write_atomically(summary, _markdown(study, storage, metric) + "\n".join(failures))
    return summary


def _markdown(study: optuna.Study, storage: str, metric: str) -> str:
    direction = study.direction.name.lower()
    states: dict[str, int] = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    lines = [
        f"# Sweep `{study.study_name}`",
        "",
        f"Storage: `{storage}`; {direction} `{metric}`; trials: {len(study.trials)} ({counts})",
        "",
    ]
    if any(t.state == TrialState.COMPLETE for t in study.trials):
        best = study.best_trial
        lines += [f"Best trial: #{best.number}, {metric} = {best.value:.6g}", ""]
        lines += [f"- `{name}={value}`" for name, value in best.params.items()]
        lines += ["", "![optimisation history](optimization_history.png)", ""]
    else:
        lines += ["No trial completed.", ""]
    names = sorted({name for trial in study.trials for name in trial.params})
    lines += [f"| trial | state | {metric} | " + " | ".join(names) + " | seconds |"]
    lines += ["| " + " | ".join(["---"] * (len(names) + 4)) + " |"]
    for trial in study.trials:
        seconds = trial.duration.total_seconds() if trial.duration else None
        cells = [str(trial.number), trial.state.name, _number(trial.value)]
        cells += [_number(trial.params.get(name)) for name in names]
        cells.append(_number(seconds, ".1f"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _number(value: object, spec: str = ".6g") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, spec)
    return str(value)


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
