"""predict.py on new inputs: a CSV of rows without targets."""

import csv
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config
from .test_table import write_table

QUICK = ("logger=none", "callbacks=model_checkpoint", "trainer.max_epochs=5")


def predict_with(tmp_path: Path, checkpoint: Path, *overrides: str) -> list[dict[str, str]]:
    cfg = compose_config(tmp_path, f"ckpt_path={checkpoint}", *overrides, config_name="predict")
    path = predict(cfg)
    with path.open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A regression on columns a, b of a table that also has noise, y and label columns."""
    root = tmp_path_factory.mktemp("table")
    table = write_table(root / "table.csv")
    overrides = (f"data.path={table}", "data.target_column=y", "data.feature_columns=[a,b]")
    train(compose_config(root / "run", "data=csv", *overrides, *QUICK, "trainer.max_epochs=15"))
    return table, root / "run" / "checkpoints" / "last.ckpt"


def test_new_rows_are_predicted_with_the_training_statistics(table_run, tmp_path: Path) -> None:
    table, checkpoint = table_run
    test_rows = predict_with(tmp_path / "split", checkpoint, "split=test")
    # The test split's rows again, as a new table: without the target, columns reordered.
    with table.open() as file:
        rows = list(csv.DictReader(file))
    by_features = {(float(r["a"]), float(r["b"])): r for r in rows}
    assert len(by_features) == len(rows)
    new = tmp_path / "new.csv"
    new.write_text("b,a\n" + "".join(f"{r['b']},{r['a']}\n" for r in rows[:20]))
    predicted = predict_with(tmp_path / "new", checkpoint, f"input={new}")
    assert [r["id"] for r in predicted] == [str(i) for i in range(20)]
    for row, prediction in zip(rows, predicted, strict=False):
        target = 2 * float(row["a"]) - float(row["b"]) + 1  # how write_table made y
        assert float(prediction["prediction"]) == pytest.approx(target, abs=0.2)
    # One row alone has no spread to standardise with: it must read as in the batch.
    one = tmp_path / "one.csv"
    one.write_text("a,b\n" + f"{rows[3]['a']},{rows[3]['b']}\n")
    [alone] = predict_with(tmp_path / "one", checkpoint, f"input={one}")
    assert float(alone["prediction"]) == pytest.approx(float(predicted[3]["prediction"]), rel=1e-6)
    assert len(test_rows) == 20 and set(test_rows[0]) == {"index", "target_0", "prediction_0"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("a", "lacks 'b':"),
        ("a,b,c", "has 'c', unknown to the model"),
        ("a,z,noise", "lacks 'b' and has 'z', unknown to the model"),
    ],
)
def test_a_table_with_other_columns_is_refused(table_run, tmp_path, header, message) -> None:
    _, checkpoint = table_run
    new = tmp_path / "new.csv"
    new.write_text(header + "\n" + ",".join("1" for _ in header.split(",")) + "\n")
    with pytest.raises(DataError, match=message) as raised:
        predict_with(tmp_path, checkpoint, f"input={new}")
    assert "the training table's, ['a', 'b']" in str(raised.value)
    assert not (tmp_path / "predictions.csv").exists()


def test_the_unused_columns_of_the_training_table_may_stay(table_run, tmp_path: Path) -> None:
    table, checkpoint = table_run  # noise, y and label were in it, not features
    assert len(predict_with(tmp_path, checkpoint, f"input={table}")) == 200


def test_a_classifier_writes_the_class_and_its_probabilities(tmp_path: Path) -> None:
    table = write_table(tmp_path / "table.csv")
    overrides = (
        "data.target_column=label",
        "data.feature_columns=[a,b]",
        "data.task=classification",
    )
    train(compose_config(tmp_path / "run", "data=csv", f"data.path={table}", *overrides, *QUICK))
    rows = predict_with(tmp_path, tmp_path / "run/checkpoints/last.ckpt", f"input={table}")
    assert set(rows[0]) == {"id", "prediction", "probability_down", "probability_up"}
    for row in rows:
        up, down = float(row["probability_up"]), float(row["probability_down"])
        assert up + down == pytest.approx(1.0, abs=1e-6)
        assert row["prediction"] == ("up" if up > down else "down")
    with table.open() as file:
        truth = [row["label"] for row in csv.DictReader(file)]
    right = sum(row["prediction"] == label for row, label in zip(rows, truth, strict=True))
    assert right / len(rows) > 0.9  # the label is the sign of a - b
