"""Pictures of runs drawn from their CSV logs, readable without any tracking service."""

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from lightning.pytorch.loggers import CSVLogger

matplotlib.use("Agg")  # files only: works on servers and in CI without a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..runs import atomic_open  # noqa: E402

Curve = tuple[list[float], list[float]]  # (epochs, values)


def read_curves(metrics_csv: Path) -> dict[str, Curve]:
    """`{"val/loss": (epochs, values), ...}` from a Lightning CSVLogger `metrics.csv`."""
    curves: dict[str, Curve] = defaultdict(lambda: ([], []))
    with metrics_csv.open(newline="") as file:
        for row in csv.DictReader(file):
            epoch = float(row.get("epoch") or "nan")
            for name, value in row.items():
                if name in ("epoch", "step") or value in (None, ""):
                    continue
                epochs, values = curves[name]
                epochs.append(epoch)
                values.append(float(value))
    return dict(curves)


def plot_run(metrics_csv: Path, output: Path) -> Path:
    """One panel per metric (`loss`, `r2`, ...) with its train and val curves, saved as PNG."""
    curves = read_curves(metrics_csv)
    by_metric: dict[str, dict[str, Curve]] = defaultdict(dict)
    for name, curve in curves.items():
        split, _, metric = name.rpartition("/")
        if split != "test":  # the test split has one value, already in the final table
            by_metric[metric][split or name] = curve
    metrics = sorted(by_metric)
    columns = min(3, max(1, len(metrics)))
    rows = max(1, math.ceil(len(metrics) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.2 * rows), squeeze=False)
    for axis, metric in zip(axes.flat, metrics, strict=False):
        for split, (epochs, values) in sorted(by_metric[metric].items()):
            axis.plot(epochs, values, marker="o", markersize=3, label=split)
        axis.set(title=metric, xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    return _save(figure, output)


def plot_csv_log(loggers: Iterable[Any], output: Path) -> Path | None:
    """Plots the run's CSV log (see `plot_run`), if one of `loggers` wrote it; returns the file."""
    for logger in loggers:
        metrics_csv = Path(logger.log_dir or "") / "metrics.csv"
        if isinstance(logger, CSVLogger) and metrics_csv.is_file():
            return plot_run(metrics_csv, output)
    return None


def plot_comparison(curves: Mapping[str, Curve], metric: str, output: Path) -> Path:
    """One line per run for `metric` over epochs, to compare the runs of a sweep."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, (epochs, values) in curves.items():
        axis.plot(epochs, values, marker="o", markersize=3, label=label)
    axis.set(title=metric, xlabel="epoch", ylabel=metric)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    if curves:
        axis.legend(fontsize="small")
    return _save(figure, output)


def _save(figure: plt.Figure, output: Path) -> Path:
    figure.tight_layout()
    with atomic_open(output, "wb") as file:
        figure.savefig(file, dpi=100, format=output.suffix.lstrip(".") or "png")
    plt.close(figure)
    return output


def format_row(values: Sequence[object]) -> str:
    return "| " + " | ".join(str(value) for value in values) + " |"
