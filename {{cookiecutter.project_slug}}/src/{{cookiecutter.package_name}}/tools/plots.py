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
    """`{"val/loss": (epochs, values), ...}` from a Lightning CSVLogger `metrics.csv`.

    Values logged when an epoch starts (the learning rate) have a step but no epoch in the file;
    they belong to the epoch of the next row that has one.
    """
    with metrics_csv.open(newline="") as file:
        rows = list(csv.DictReader(file))
    epoch = math.nan
    for row in reversed(rows):  # backwards: each blank epoch takes the next row's
        epoch = float(row["epoch"]) if row.get("epoch") else epoch
        row["epoch"] = str(epoch)
    curves: dict[str, Curve] = defaultdict(lambda: ([], []))
    for row in rows:
        for name, value in row.items():
            if name in ("epoch", "step") or value in (None, ""):
                continue
            epochs, values = curves[name]
            epochs.append(float(row["epoch"]))
            values.append(float(value))
    return dict(curves)


def plot_run(metrics_csv: Path, output: Path) -> Path:
    """One panel per metric (`loss`, `r2`, ...) with its train and val curves, saved as PNG."""
    by_metric: dict[str, dict[str, Curve]] = defaultdict(dict)
    for name, curve in sorted(read_curves(metrics_csv).items()):
        split, _, metric = name.rpartition("/")
        if split != "test":  # the test split has one value, already in the final table
            by_metric[metric][split or name] = curve
    return plot_panels(dict(sorted(by_metric.items())), output)


def plot_csv_log(loggers: Iterable[Any], output: Path) -> Path | None:
    """Plots the run's CSV log (see `plot_run`), if one of `loggers` wrote it; returns the file."""
    for logger in loggers:
        metrics_csv = Path(logger.log_dir or "") / "metrics.csv"
        if isinstance(logger, CSVLogger) and metrics_csv.is_file():
            return plot_run(metrics_csv, output)
    return None


def plot_panels(
    panels: Mapping[str, Mapping[str, Curve]], output: Path, size: tuple[float, float] = (4.5, 3.2)
) -> Path:
    """One panel (`size` inches) per title, up to 3 in a row, each with its labelled curves over
    epochs: a run's metrics, or one metric of each run of a sweep."""
    columns = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = size[0] * columns, size[1] * rows
    figure, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    for axis, (title, curves) in zip(axes.flat, panels.items(), strict=False):
        for label, (epochs, values) in curves.items():
            axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set(title=title, xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if curves:
            axis.legend(fontsize="small")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    # Margins in inches that fit the titles and tick labels (panels are 3.2 inches high or
    # more): tight_layout would draw the figure once more to measure them, a third of the time
    # a run spends on its plot.
    figure.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.2 / width,
        bottom=0.55 / height,
        top=1 - 0.35 / height,
        wspace=0.25,
        hspace=0.45,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(output, "wb") as file:
        figure.savefig(file, dpi=100, format=output.suffix.lstrip(".") or "png")
    plt.close(figure)
    return output


def format_row(values: Sequence[object]) -> str:
    return "| " + " | ".join(str(value) for value in values) + " |"
