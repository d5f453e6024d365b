"""The README's recipes for your own data and predictions, run from the command line as a user
runs them, in a fresh folder."""

import csv
import json
import statistics
from pathlib import Path

import pytest

from .conftest import error_line, run_script
from .test_table import write_table

pytestmark = pytest.mark.slow

QUIET = ("logger=none",)


def ok(result) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def newest_run(cwd: Path) -> Path:
    return sorted((cwd / "logs" / "runs").iterdir())[-1]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as file:
        return list(csv.DictReader(file))


def test_train_on_a_csv_and_predict_rows_without_targets(tmp_path: Path) -> None:
    table = write_table(tmp_path / "houses.csv", rows=300)
    ok(
        run_script(
            tmp_path,
            "train.py",
            "data=csv",
            f"data.path={table}",
            "data.target_column=y",
            "data.feature_columns=[a,b]",
            "trainer.max_epochs=20",
            *QUIET,
        )
    )
    (tmp_path / "new.csv").write_text("a,b\n1.0,2.0\n0.5,-1.0\n3.0,0.0\n")
    ok(run_script(tmp_path, "predict.py", "ckpt_path=last", "input=new.csv"))
    rows = read_rows(newest_run(tmp_path) / "predictions.csv")
    assert [row["id"] for row in rows] == ["0", "1", "2"]
    expected = [2 * 1.0 - 2.0 + 1, 2 * 0.5 + 1.0 + 1, 2 * 3.0 - 0.0 + 1]  # y = 2a - b + 1
    for row, value in zip(rows, expected, strict=True):
        assert float(row["prediction"]) == pytest.approx(value, abs=0.15)
    (tmp_path / "other.csv").write_text("a,c\n1.0,2.0\n")
    line = error_line(run_script(tmp_path, "predict.py", "ckpt_path=last", "input=other.csv"))
    assert "lacks 'b' and has 'c', unknown to the model" in line


def test_a_three_fold_multirun_ends_with_the_mean_and_std(tmp_path: Path) -> None:
    output = ok(
        run_script(
            tmp_path,
            "train.py",
            "-m",
            "data.fold=0,1,2",
            "data.num_folds=3",
            "trainer.max_epochs=2",
            "callbacks=none",
            *QUIET,
        )
    )
    assert "Cross-validation over 3 folds" in output
    [sweep] = (tmp_path / "logs" / "multiruns").iterdir()
    jobs = [json.loads((sweep / str(i) / "metrics.json").read_text()) for i in range(3)]
    assert len({job["val/loss"] for job in jobs}) == 3  # three validation folds
    assert len({job["test/loss"] for job in jobs}) == 3  # three models, one test split
    summary = {row["metric"]: row for row in read_rows(sweep / "folds.csv")}
    for metric in ("val/loss", "test/r2"):
        values = [job[metric] for job in jobs]
        assert float(summary[metric]["mean"]) == pytest.approx(statistics.fmean(values))
        assert float(summary[metric]["std"]) == pytest.approx(statistics.stdev(values))
    assert "| val/loss |" in (sweep / "folds.md").read_text()
