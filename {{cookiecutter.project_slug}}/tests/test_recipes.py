"""The README's recipes for your own data, predictions and exported models, run from the command
line as a user runs them, in a fresh folder."""

import csv
import json
import re
import statistics
from pathlib import Path

import pytest

from .conftest import error_line, run_script
from .image_files import COLOURS, write_image_folder
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


def test_train_on_an_image_folder_and_predict_a_second_one(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "data" / "pets", per_class=12)
    write_image_folder(tmp_path / "data" / "new", per_class=4, sizes=[(48, 32)], seed=9)
    ok(
        run_script(
            tmp_path,
            "train.py",
            "data=images",
            "data.path=data/pets",
            "data.image_size=[12,12]",
            "model=cnn",
            "trainer.max_epochs=8",
            *QUIET,
        )
    )
    output = ok(run_script(tmp_path, "predict.py", "ckpt_path=last", "input=data/new"))
    path = newest_run(tmp_path) / "predictions.csv"
    assert f"Wrote 12 predictions to {path.resolve()}" in output
    rows = read_rows(path)
    assert [row["id"].split("/")[0] for row in rows] == sorted(COLOURS * 4)
    assert sum(row["prediction"] == row["id"].split("/")[0] for row in rows) >= 10


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


def test_export_to_onnx_and_compare(tmp_path: Path) -> None:
    ok(run_script(tmp_path, "train.py", "trainer.max_epochs=3", *QUIET))
    output = ok(run_script(tmp_path, "export.py", "ckpt_path=last"))
    match = re.search(r"onnxruntime and PyTorch differ by at most (\S+) \(allowed: 1e-05", output)
    assert match, output[-2000:]
    assert float(match[1]) <= 1e-5
    run = newest_run(tmp_path)
    assert (run / "model.onnx").is_file() and (run / "run_info.json").is_file()
    record = json.loads((run / "model.json").read_text())
    assert record["input"] == {"shape": ["batch", 8], "dtype": "float32"}
    assert record["check"]["max_abs_difference"] == pytest.approx(float(match[1]), rel=1e-2)


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


@pytest.mark.parametrize(
    "data",
    [
        ["data=images", "data.path=data/pets", "data.image_size=[32,32]"],
        ["data=digits", "data.image_size=[32,32]"],
    ],
    ids=["image-folder", "digits"],
)
def test_resnet18_with_random_weights_for_one_epoch(tmp_path: Path, data: list[str]) -> None:
    write_image_folder(tmp_path / "data" / "pets", per_class=8)
    output = ok(
        run_script(tmp_path, "train.py", "model=resnet18", *data, "trainer.max_epochs=1", *QUIET)
    )
    assert "test/acc" in output and "Downloading" not in output
    metrics = json.loads((newest_run(tmp_path) / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0
