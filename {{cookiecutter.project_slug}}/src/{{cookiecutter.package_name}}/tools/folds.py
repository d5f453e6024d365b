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
    """Writes folds.md and folds.csv into `sweep_dir` and prints folds.md; None without folds."""
    if not (groups := fold_results(sweep_dir)):
        return None
    lines = [f"# Cross-validation: {sweep_dir.name}", ""]
    # csv writes None as an empty cell and a float as its repr, which reads back exactly.
    table: list[list[object]] = [["overrides", "metric", "mean", "std", "folds", "values"]]
    for others, group in groups.items():
        done = sorted(fold for fold, metrics in group.items() if metrics is not None)
        failed = sorted(set(group) - set(done))
        title = " ".join(others) or "all jobs"
        without = f"; without (failed or unfinished): {failed}" if failed else ""
        lines += [f"## Cross-validation over {len(done)} folds: `{title}`", ""]
        lines += [f"Folds with results: {done}{without}", ""]
        lines += ["| metric | mean | std | " + " | ".join(f"fold {f}" for f in done) + " |"]
        lines += ["| --- | --- | --- | " + " | ".join("---" for _ in done) + " |"]
        for name, mean, spread, values in summarise(group):
            shown = "" if spread is None else f"{spread:.6g}"
            cells = " | ".join(f"{v:.6g}" for v in values)
            lines.append(f"| {name} | {mean:.6g} | {shown} | {cells} |")
            table.append([title, name, mean, spread, len(values), " ".join(map(repr, values))])
        lines.append("")
    print(text := "\n".join(lines))
    (summary := sweep_dir / "folds.md").write_text(text)
    with (sweep_dir / "folds.csv").open("w", newline="") as file:
        csv.writer(file).writerows(table)
    return summary


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
