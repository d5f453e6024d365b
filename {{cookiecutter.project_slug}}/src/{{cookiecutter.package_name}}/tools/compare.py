"""Compare finished runs side by side: python scripts/compare_runs.py logs/multiruns/<sweep>

Finds every run (a folder with `metrics.json`) under the given run or multirun folders and writes
`comparison.md`, `comparison.csv` and `comparison.png` (one curve per run) to `--out`.
"""

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from omegaconf import OmegaConf

from .plots import format_row, plot_panels, read_curves


@dataclass(frozen=True)
class Run:
    path: Path
    overrides: str  # what was typed on the command line, e.g. "model=mlp seed=2"
    metrics: dict[str, float]


def find_runs(folders: list[Path]) -> list[Run]:
    """Every run under `folders`, in path order (multirun jobs 0, 1, ... stay in order).

    Each run's overrides leave out those every run shares, so the table shows what differs.
    """
    found = sorted(
        {p.parent for folder in folders for p in folder.rglob("metrics.json")},
        key=lambda p: [int(s) if s.isdigit() else s for s in p.parts],
    )
    overrides = [_overrides(path) for path in found]
    shared = set.intersection(*map(set, overrides)) if len(found) > 1 else set()
    return [
        Run(
            path,
            " ".join(o for o in run_overrides if o not in shared),
            json.loads((path / "metrics.json").read_text()),
        )
        for path, run_overrides in zip(found, overrides, strict=True)
    ]


def _overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"  # Hydra's YAML list of the typed overrides
    return cast(list[str], OmegaConf.to_container(OmegaConf.load(path))) if path.is_file() else []


def write_comparison(runs: list[Run], out: Path, metric: str) -> list[Path]:
    """Writes the table (Markdown and CSV) and the plot of `metric`; returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    names = sorted({name for run in runs for name in run.metrics})
    header = ["run", "overrides", *names]
    rows = [
        [str(run.path), run.overrides, *(_fmt(run.metrics.get(name)) for name in names)]
        for run in runs
    ]
    markdown = [format_row(header), format_row(["---"] * len(header)), *map(format_row, rows)]
    (out / "comparison.md").write_text("\n".join(markdown) + "\n")
    with (out / "comparison.csv").open("w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    curves = {}
    for run in runs:
        metrics_csv = run.path / "csv" / "metrics.csv"
        if metrics_csv.is_file() and metric in (run_curves := read_curves(metrics_csv)):
            curves[run.overrides or run.path.name] = run_curves[metric]
    plot_panels({metric: curves}, out / "comparison.png", size=(7, 4.5))
    return [out / "comparison.md", out / "comparison.csv", out / "comparison.png"]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run or multirun folders")
    parser.add_argument("--metric", default="val/loss", help="the metric to plot per epoch")
    parser.add_argument("--out", type=Path, help="where to write (default: the first folder)")
    args = parser.parse_args(argv)
    missing = [str(folder) for folder in args.folders if not folder.is_dir()]
    if missing:
        parser.error(f"no such folder: {', '.join(missing)}")
    runs = find_runs(args.folders)
    if not runs:
        parser.error("no finished runs (folders with metrics.json) under the given folders")
    files = write_comparison(runs, args.out or args.folders[0], args.metric)
    print(files[0].read_text())
    print("Wrote", ", ".join(str(f) for f in files))
