"""serve.py on an image-folder model: base64 image files answered as predict.py answers the same
files; what is not an image gets one line."""

import base64
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config
from .image_files import write_image_folder
from .test_serve import post, served

pytestmark = pytest.mark.slow  # a server in a process of its own

IMAGES = ("data=images", "data.image_size=[12,12]", "model=cnn", "model.net.channels=[4]")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    pets = write_image_folder(root / "pets", per_class=6)
    overrides = (f"data.path={pets}", "trainer.max_epochs=2", "logger=none", "test=false")
    train(compose_config(root / "run", *IMAGES, *overrides))
    return root / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def port(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with served(tmp_path_factory.mktemp("logs"), f"ckpt_path={checkpoint}") as port:
        yield port


def test_image_files_are_answered_as_predict_py_answers(
    checkpoint: Path, port: int, tmp_path: Path
) -> None:
    new = write_image_folder(tmp_path / "new", per_class=2, sizes=[(40, 30)], seed=5)
    cfg = compose_config(tmp_path, f"ckpt_path={checkpoint}", f"input={new}", config_name="predict")
    with predict(cfg).open() as file:
        expected = list(csv.DictReader(file))
    assert len(expected) == 6
    for row in expected:
        image = base64.b64encode((new / row["id"]).read_bytes()).decode()
        status, answer = post(port, {"image": image})
        assert status == 200, answer
        assert answer["prediction"] == row["prediction"]
        for name, probability in answer["probabilities"].items():
            assert probability == pytest.approx(float(row[f"probability_{name}"]), abs=1e-6)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": base64.b64encode(b"not an image").decode()}, "cannot be read as an image"),
        ({"image": "%%%"}, "the request's image is not base64"),
        ({"picture": "aGk="}, 'an image model reads {"image": '),
    ],
)
def test_what_is_not_an_image_gets_one_line(port: int, body: dict[str, str], message: str) -> None:
    status, answer = post(port, body)
    assert status == 422 and message in answer["detail"], answer
