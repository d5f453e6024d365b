"""data=csv: the user's own table (CSV or Parquet), its missing values and text columns, and one
clear message for a missing file or column."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
import torch

from {{ cookiecutter.package_name }}.data.table import CSVDataModule
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT


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
        ({"target_column": "label"}, "column 'label' holds text where numbers were expected"),
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
        ("a,b,y\n1,2,3\n4,nan,6\n7,inf,9\n", "column 'b' holds inf in row 2 \\(from 0\\)"),
        ("a,b,y\n1,1e39,3\n", "column 'b' holds inf in row 0"),  # beyond float32
        ("a,b,y\n1,2,3\n4,5,-inf\n", "the target column 'y' is missing or infinite in 1 row"),
        ("a,b,y\n1,2,3\n4,5,\n", "the target column 'y' is missing or infinite in 1 row"),
    ],
)
def test_infinite_numbers_and_missing_targets_are_found_at_load(
    tmp_path: Path, table: str, message: str
) -> None:
    (tmp_path / "t.csv").write_text(table)
    with pytest.raises(DataError, match=message):
        CSVDataModule(path=str(tmp_path / "t.csv"), target_column="y").setup()


def test_parquet_reads_as_the_same_table_in_csv(tmp_path: Path) -> None:
    csv_path = write_table(tmp_path / "t.csv")
    pq.write_table(pyarrow.csv.read_csv(csv_path), tmp_path / "t.parquet", row_group_size=64)
    loaded = []
    for path in (csv_path, tmp_path / "t.parquet"):
        dm = CSVDataModule(path=str(path), target_column="label", task="classification")
        dm.setup()
        loaded.append(dm)
    csv_dm, parquet_dm = loaded
    assert parquet_dm.features == ["a", "b", "noise", "y"] and parquet_dm.classes == ["down", "up"]
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(csv_dm.split(name).rows, parquet_dm.split(name).rows)
        x, y = csv_dm.split_dataloader(name).dataset[:]
        torch.testing.assert_close(parquet_dm.split_dataloader(name).dataset[:], (x, y))


def write_gappy_table(path: Path, rows: int = 300) -> Path:
    """Number column x with gaps, text column city (a, b, c, one rare value), target y."""
    rng = np.random.default_rng(0)
    lines = ["x,city,y"]
    for i in range(rows):
        x = "" if i % 5 == 0 else f"{rng.normal() + 3:.4f}"
        city = "rare" if i == 7 else ["a", "b", "c"][i % 3]
        lines.append(f"{x},{city},{i % 3 + (0 if i % 5 == 0 else float(x))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_missing_numbers_and_text_columns_are_encoded_with_training_statistics(
    tmp_path: Path,
) -> None:
    dm = CSVDataModule(
        path=str(write_gappy_table(tmp_path / "t.csv")), target_column="y", max_categories=3
    )
    dm.setup()
    stored = np.asarray(dm.train_set.features)[dm.train_set.rows]
    x = stored[:, 0]
    assert np.isnan(x).any()  # the gaps are stored as gaps
    mean = x[~np.isnan(x)].mean()  # of the training rows' values only
    torch.testing.assert_close(dm.fitted["fill"][0], torch.tensor(mean, dtype=torch.float32))
    # the three most frequent training values; "rare" falls in the column for other values
    assert dm.categories == {"city": ["a", "b", "c"]} and dm.input_shape == (5,)
    encoded, _ = dm.train_set.__getitems__(range(len(dm.train_set)))
    assert torch.isfinite(encoded).all() and encoded[:, 1:].sum(1).eq(1).all()  # one-hot
    torch.testing.assert_close(encoded[np.isnan(x), 0], torch.zeros(int(np.isnan(x).sum())))

    # new rows, read from the checkpoint's state alone: the same policy, nothing refitted
    new = CSVDataModule(path="unused.csv", target_column="y")
    new.load_state_dict(dm.state_dict())
    (tmp_path / "new.csv").write_text("x,city\n,b\n3.5,unseen\n3.5,a\n")
    ids, features = new.read_inputs(tmp_path / "new.csv")
    rows = new.eval_transform(features)
    expected_x = (3.5 - dm.fitted["mean"][0]) / dm.fitted["std"][0]
    assert ids == ["0", "1", "2"]
    torch.testing.assert_close(rows[:, 0], torch.stack([torch.tensor(0.0), expected_x, expected_x]))
    torch.testing.assert_close(rows[:, 1:], torch.eye(4)[[2, 0, 1]])  # other, a, b, c


def test_train_on_a_csv_through_the_config(make_config, tmp_path: Path) -> None:
    path = write_table(tmp_path / "table.csv")
    overrides = (f"data.path={path}", "data.target_column=y", "data.feature_columns=[a,b]")
    cfg = make_config("data=csv", *overrides, "trainer.max_epochs=15")
    metrics = train(cfg)
    assert metrics["test/r2"] > 0.99  # the target is an exact linear function of a and b


# Trains and predicts from a Parquet table in a process whose memory allowance (RLIMIT_DATA,
# set once torch and the project are imported) is smaller than the table's float32 values;
# then shows that those values alone do not fit in it.
MEMORY_LIMITED = """
import resource, sys
import numpy as np
import {{ cookiecutter.package_name }}.build
import {{ cookiecutter.package_name }}.data.table
import {{ cookiecutter.package_name }}.prediction
import {{ cookiecutter.package_name }}.training
from {{ cookiecutter.package_name }}.cli import predict_main, train_main

table, work, allowance, rows, columns = sys.argv[1:]
status = open("/proc/self/status").read()
limit = int(status.split("VmData:")[1].split()[0]) * 1024 + int(allowance)
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
for main, args in (
    (train_main, ["data=csv", f"data.path={table}", "data.target_column=y", "logger=none",
                  "trainer.max_epochs=1", "trainer.limit_train_batches=20",
                  "trainer.limit_val_batches=5", "trainer.limit_test_batches=5",
                  f"hydra.run.dir={work}/train"]),
    (predict_main, [f"ckpt_path={work}/train/checkpoints/last.ckpt", f"input={work}/new.csv",
                    f"hydra.run.dir={work}/predict"]),
):
    sys.argv = ["entry", *args]
    try:
        main()
    except SystemExit as exit:
        assert not exit.code, args
try:
    np.ones((int(rows), int(columns)), np.float32)
except MemoryError:
    print("the table's float32 values do not fit")
"""


@pytest.mark.slow
def test_a_parquet_table_larger_than_the_memory_allowed_trains_and_predicts(
    tmp_path: Path,
) -> None:
    rows, columns = 2_000_000, 19  # 145 MiB of float32 features, 400 MB of Parquet
    rng = np.random.default_rng(0)
    features = {f"f{i}": rng.normal(size=rows) for i in range(columns)}
    table = pa.table(features | {"y": sum(features.values())})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=100_000)
    del features, table
    (tmp_path / "new.csv").write_text(
        ",".join(f"f{i}" for i in range(columns)) + "\n" + "0.5," * 18 + "0.5\n"
    )
    # The run needs about 85 MiB (it fails at 80); 120 leaves room for what varies between
    # runs (allocator arenas), and stays below the 145 MiB of float32 values.
    allowance = str(120 * 2**20)
    script = [sys.executable, "-c", MEMORY_LIMITED, str(tmp_path / "big.parquet"), str(tmp_path)]
    done = subprocess.run(
        [*script, allowance, str(rows), str(columns)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the table's float32 values do not fit" in done.stdout
    predictions = (tmp_path / "predict" / "predictions.csv").read_text().splitlines()
    assert predictions[0] == "id,prediction" and len(predictions) == 2
