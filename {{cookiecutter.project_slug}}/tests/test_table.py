"""data=csv: the user's own table, with one clear message for a missing file or column."""

from pathlib import Path

import numpy as np
import pytest
import torch

from {{ cookiecutter.package_name }}.data.table import CSVDataModule
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.training import train


def write_table(path: Path, rows: int = 200) -> Path:
    """Columns a, b, noise -> y = 2a - b + 1, and a class label from the sign of a - b."""
    rng = np.random.default_rng(0)
    a, b, noise = rng.normal(size=(3, rows))
    lines = ["a,b,noise,y,label"]
    for i in range(rows):
        label = "up" if a[i] > b[i] else "down"
        lines.append(f"{a[i]:.6f},{b[i]:.6f},{noise[i]:.6f},{2 * a[i] - b[i] + 1:.6f},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_regression_from_chosen_columns(tmp_path: Path) -> None:
    dm = CSVDataModule(
        path=str(write_table(tmp_path / "t.csv")),
        target_column="y",
        feature_columns=["a", "b"],
        batch_size=16,
    )
    dm.setup()
    assert dm.input_shape == (2,) and dm.num_outputs == 1
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 200
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 2) and y.shape == (16, 1) and y.dtype == torch.float32


def test_classification_maps_labels_to_classes(tmp_path: Path) -> None:
    dm = CSVDataModule(
        path=str(write_table(tmp_path / "t.csv")),
        target_column="label",
        feature_columns=["a", "b"],
        task="classification",
    )
    dm.setup()
    assert dm.classes == ["down", "up"] and dm.num_outputs == 2
    _, y = dm.test_set[0]
    assert y.dtype == torch.int64 and y.item() in (0, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "nowhere.csv"}, "data.path=nowhere.csv does not exist"),
        ({"target_column": "price"}, "has no column 'price'; its columns are"),
        ({"feature_columns": ["a", "c"]}, "has no column 'c'"),
        ({"feature_columns": ["a", "label"]}, "column 'label' holds"),
    ],
)
def test_bad_tables_get_one_clear_message(tmp_path: Path, kwargs: dict, message: str) -> None:
    settings = {
        "path": str(write_table(tmp_path / "t.csv")),
        "target_column": "y",
        "feature_columns": ["a", "b"],
    } | kwargs
    with pytest.raises(DataError, match=message):
        CSVDataModule(**settings).setup()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("a,b,y\n1,2,3\n4,nan,6\n7,inf,9\n", "column 'b' holds 'nan' on line 3, not a finite"),
        ("a,b,y\n1,2,3\n4,5,-inf\n", "column 'y' holds '-inf' on line 3"),
        ("a,b,y\n1,1e39,3\n", "column 'b' holds '1e39' on line 2"),  # beyond float32
    ],
)
def test_non_finite_numbers_are_found_at_load(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "t.csv").write_text(table)
    with pytest.raises(DataError, match=message):
        CSVDataModule(path=str(tmp_path / "t.csv"), target_column="y").setup()


def test_train_on_a_csv_through_the_config(make_config, tmp_path: Path) -> None:
    path = write_table(tmp_path / "table.csv")
    overrides = (f"data.path={path}", "data.target_column=y", "data.feature_columns=[a,b]")
    cfg = make_config("data=csv", *overrides, "trainer.max_epochs=15")
    metrics = train(cfg)
    assert metrics["test/r2"] > 0.99  # the target is an exact linear function of a and b
