"""The README's recipes for images of your own: train on a folder of class folders, predict a
second folder, fine-tune a ResNet; run from the command line, in a fresh folder."""

import json
from pathlib import Path

import pytest

from .conftest import run_script
from .image_files import COLOURS, write_image_folder
from .test_recipes import QUIET, newest_run, ok, read_rows

pytestmark = pytest.mark.slow


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
