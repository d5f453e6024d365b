"""The end of a k-fold multirun: each metric's mean and standard deviation over the folds.

    python train.py -m data.fold=0,1,2,3,4 data.num_folds=5

Each job trains on all folds but one, validates on that one and tests on the test split every
job shares; its metrics.json holds the results. The summary groups the jobs by their other
overrides (so `model.optimizer.lr=0.1,0.01 data.fold=0,1,2` cross-validates each learning rate)
and writes `folds.md` and `folds.csv` into the multirun's folder. Rebuild it any time:

    python -m <package>.tools.folds logs/multiruns/<date>_<time>
"""

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from statistics import fmean, stdev

from omegaconf import OmegaConf

FOLD = "data.fold="
Group = dict[int, dict[str, float] | None]  # fold -> its metrics (None: the job left none)


def fold_results(sweep_dir: Path) -> dict[tuple[str, ...], Group]:
    """The metrics of every job with a `data.fold=` override, grouped by its other overrides."""
    groups: dict[tuple[str, ...], Group] = defaultdict(dict)
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        overrides = [str(o) for o in OmegaConf.load(overrides_file)]
        folds = [o.removeprefix(FOLD) for o in overrides if o.startswith(FOLD)]
        if not folds:
            continue
        metrics_file = overrides_file.parent.parent / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
        others = tuple(o for o in overrides if not o.startswith(FOLD))
        groups[others][int(folds[0])] = metrics
    return dict(groups)


def summarise(group: Group) -> list[tuple[str, float, float | None, list[float]]]:
    """(metric, mean, sample standard deviation or None for one fold, per-fold values) for each
    metric every finished fold reported."""
    finished = [metrics for _, metrics in sorted(group.items()) if metrics is not None]
    names = sorted(set.intersection(*(set(metrics) for metrics in finished))) if finished else []
    columns = {name: [float(metrics[name]) for metrics in finished] for name in names}
    return [
        (name, fmean(values), stdev(values) if len(values) > 1 else None, values)
        for name, values in columns.items()
    ]


def write_fold_summary(sweep_dir: Path) -> Path | None:
    """Writes folds.md and folds.csv into `sweep_dir` and prints the table; None without folds."""
    groups = fold_results(sweep_dir)
    if not groups:
        return None
    lines = [f"# Cross-validation: {sweep_dir.name}", ""]
    # csv writes None as an empty cell and a float as its repr, which reads back exactly.
    table: list[list[object]] = [["overrides", "metric", "mean", "std", "folds", "values"]]
    for others, group in groups.items():
        done = sorted(fold for fold, metrics in group.items() if metrics is not None)
        failed = sorted(fold for fold, metrics in group.items() if metrics is None)
        title = " ".join(others) or "all jobs"
        without = f"; without (failed or unfinished): {failed}" if failed else ""
        lines += [f"## `{title}`", "", f"Folds with results: {done}{without}", ""]
        lines += ["| metric | mean | std | " + " | ".join(f"fold {f}" for f in done) + " |"]
        lines += ["| --- | --- | --- | " + " | ".join("---" for _ in done) + " |"]
        rows = summarise(group)
        for name, mean, spread, values in rows:
            shown = "" if spread is None else f"{spread:.6g}"
            cells = " | ".join(f"{v:.6g}" for v in values)
            lines.append(f"| {name} | {mean:.6g} | {shown} | {cells} |")
            table.append([title, name, mean, spread, len(values), " ".join(map(repr, values))])
        lines.append("")
        print_summary(title, rows)
    summary = sweep_dir / "folds.md"
    summary.write_text("\n".join(lines))
    with (sweep_dir / "folds.csv").open("w", newline="") as file:
        csv.writer(file).writerows(table)
    return summary


def print_summary(title: str, rows: list[tuple[str, float, float | None, list[float]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Cross-validation over {len(rows[0][3]) if rows else 0} folds: {title}")
    for column in ("metric", "mean", "std"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, mean, spread, _ in rows:
        table.add_row(name, f"{mean:.6g}", "" if spread is None else f"{spread:.6g}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="the multirun's folder")
    args = parser.parse_args()
    summary = write_fold_summary(args.sweep_dir)
    if summary is None:
        raise SystemExit(f"no job under {args.sweep_dir} has a data.fold= override")
    print(summary)


if __name__ == "__main__":
    main()
