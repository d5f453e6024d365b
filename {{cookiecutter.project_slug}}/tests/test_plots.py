"""metrics.png: the curves read back from a real run's CSV log, one panel per metric."""

from pathlib import Path

import matplotlib.image

from {{ cookiecutter.package_name }}.tools.plots import plot_run, read_curves
from {{ cookiecutter.package_name }}.training import train


def test_a_runs_curves_are_read_by_epoch_and_drawn(make_config, tmp_path: Path) -> None:
    # callbacks=lr_monitor: the learning rate is logged as each epoch starts, without an epoch.
    train(make_config("trainer.max_epochs=3", "callbacks=lr_monitor", "logger=csv"))
    metrics_csv = tmp_path / "csv" / "metrics.csv"
    curves = read_curves(metrics_csv)
    assert curves["lr-SGD"] == ([0.0, 1.0, 2.0], [0.1, 0.1, 0.1])
    assert curves["val/loss"][0] == curves["train/loss"][0] == [0.0, 1.0, 2.0]

    image = matplotlib.image.imread(plot_run(metrics_csv, tmp_path / "again.png"))
    # loss, lr-SGD, mae, mse, r2 (test values are in the table): 2 rows of 3 panels, 100 dpi.
    assert image.shape[:2] == (640, 1350)
    assert (tmp_path / "metrics.png").is_file()  # drawn by the run itself
