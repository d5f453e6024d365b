"""The summary of an Optuna study: best trial, every trial with its state, the history plot.

Written at the end of each sweep by `SweepSummaryCallback`; to rebuild it by hand (for instance
while a long sweep runs elsewhere):

    python -m <package>.sweeps.summary sqlite:///logs/sweeps/regression_optuna/study.db \
        regression_optuna logs/sweeps/regression_optuna
"""

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed (clusters, CI)

import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str
    value: float | None
    params: dict[str, object]
    seconds: float | None


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    rows = []
    for trial in study.trials:
        duration = trial.duration.total_seconds() if trial.duration else None
        rows.append(TrialRow(trial.number, trial.state.name, trial.value, trial.params, duration))
    return rows


def write_summary(storage: str, study_name: str, out_dir: Path, metric: str = "value") -> Path:
    """Writes summary.md, trials.csv and optimization_history.png to out_dir; returns summary.md.

    `metric` names the objective (e.g. `val/loss`) in the texts; the study does not record it.
    """
    study = optuna.load_study(study_name=study_name, storage=storage)
    rows = trial_rows(study)
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out_dir / "trials.csv")
    plot_history(rows, minimize, out_dir / "optimization_history.png", metric)
    summary = out_dir / "summary.md"
    summary.write_text(_markdown(study_name, storage, rows, minimize, metric))
    return summary


def completed(rows: list[TrialRow]) -> list[tuple[TrialRow, float]]:
    """The completed trials, each with its value."""
    return [(row, row.value) for row in rows if row.state == "COMPLETE" and row.value is not None]


def best_row(rows: list[TrialRow], minimize: bool) -> TrialRow | None:
    done = completed(rows)
    if not done:
        return None
    row, _ = (min if minimize else max)(done, key=lambda pair: pair[1])
    return row


def _markdown(
    study_name: str, storage: str, rows: list[TrialRow], minimize: bool, metric: str
) -> str:
    best = best_row(rows, minimize)
    states = {state: sum(row.state == state for row in rows) for state in _states(rows)}
    lines = [
        f"# Sweep `{study_name}`",
        "",
        f"Storage: `{storage}`; {'minimize' if minimize else 'maximize'} `{metric}`;"
        f" trials: {len(rows)} ({', '.join(f'{n} {s}' for s, n in states.items())})",
        "",
    ]
    if best is None:
        lines += ["No trial completed.", ""]
    else:
        lines += [f"Best trial: #{best.number}, {metric} = {best.value:.6g}", ""]
        lines += [f"- `{name}={value}`" for name, value in best.params.items()]
        lines += ["", "![optimisation history](optimization_history.png)", ""]
    names = sorted({name for row in rows for name in row.params})
    lines += [f"| trial | state | {metric} | " + " | ".join(names) + " | seconds |"]
    lines += ["| " + " | ".join(["---"] * (len(names) + 4)) + " |"]
    for row in rows:
        cells = [str(row.number), row.state, _number(row.value)]
        cells += [_number(row.params.get(name)) for name in names]
        cells.append(_number(row.seconds, ".1f"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_csv(rows: list[TrialRow], path: Path) -> None:
    names = sorted({name for row in rows for name in row.params})
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["trial", "state", "value", *names, "seconds"])
        for row in rows:
            params = [row.params.get(name, "") for name in names]
            writer.writerow([row.number, row.state, row.value, *params, row.seconds])


def plot_history(rows: list[TrialRow], minimize: bool, path: Path, metric: str = "value") -> None:
    """Each completed trial's value and the best so far; failed trials as red ticks."""
    figure, axes = plt.subplots(figsize=(7, 4))
    done = completed(rows)
    if done:
        numbers = [row.number for row, _ in done]
        values = [value for _, value in done]
        best = [(min if minimize else max)(values[: i + 1]) for i in range(len(values))]
        axes.scatter(numbers, values, label="trial", color="tab:blue")
        axes.step(numbers, best, where="post", label="best so far", color="tab:orange")
    for row in rows:
        if row.state == "FAIL":
            axes.axvline(row.number, color="tab:red", alpha=0.4, linestyle=":")
    if any(row.state == "FAIL" for row in rows):
        axes.plot([], [], color="tab:red", linestyle=":", label="failed")
    axes.set_xlabel("trial")
    axes.set_ylabel(metric)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Optimisation history")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _states(rows: list[TrialRow]) -> list[str]:
    return sorted({row.state for row in rows})


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
