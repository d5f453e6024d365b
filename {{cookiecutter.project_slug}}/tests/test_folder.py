"""data=images: a folder of image files, one sub-folder per class, decoded once into memory."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from {{ cookiecutter.package_name }}.data.folder import ImageFolderDataModule
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config
from .image_files import COLOURS, write_image_folder
from .test_errors import assert_one_line_errors, make_workdir
from .test_prediction import QUICK, predict_with


@pytest.fixture(scope="module")
def pets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("pets") / "pets")


def folder(path: Path, **settings) -> ImageFolderDataModule:
    dm = ImageFolderDataModule(path=str(path), **({"image_size": [12, 12]} | settings))
    dm.setup()
    return dm


def test_class_folders_become_classes_and_images_one_size(pets: Path) -> None:
    dm = folder(pets, test_fraction=0.25, val_fraction=0.25, batch_size=8)
    assert dm.classes == sorted(COLOURS) and dm.num_outputs == 3
    assert sum(len(s) for s in (dm.train_set, dm.val_set, dm.test_set)) == 36
    assert dm.train_set.features.shape[1:] == (3, 12, 12)  # RGB, resized as they are read
    assert dm.train_set.features.dtype == np.uint8 and dm.input_shape == (3, 12, 12)
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 3, 12, 12) and x.dtype == torch.float32 and y.dtype == torch.int64
    # The label is the folder: a class's bright channel is brightest in its images.
    for image, label in zip(dm.train_set.features, dm.train_set.targets, strict=True):
        assert image.reshape(3, -1).mean(1).argmax() == COLOURS.index(dm.classes[label])


def test_grey_images_and_given_split_folders(pets: Path, tmp_path: Path) -> None:
    test_dir = write_image_folder(tmp_path / "test", per_class=2, seed=1)
    dm = folder(pets, channels=1, test_path=str(test_dir), val_fraction=0.25)
    assert dm.input_shape == (1, 12, 12)
    assert len(dm.test_set) == 6 and (len(dm.train_set), len(dm.val_set)) == (27, 9)


def test_images_of_one_size_keep_it_without_image_size(tmp_path: Path) -> None:
    same = write_image_folder(tmp_path / "same", per_class=3, sizes=[(10, 14)])
    assert folder(same, image_size=None).input_shape == (3, 10, 14)


def test_new_images_are_read_at_the_training_size_and_channels(pets: Path, tmp_path: Path):
    dm = folder(pets, channels=1)
    new = write_image_folder(tmp_path / "new", per_class=1, sizes=[(30, 40)], seed=2)
    (new / "notes.txt").write_text("not an image")  # other files are left alone
    ids, images = dm.read_inputs(new)
    assert ids == [f"{name}/000.png" for name in sorted(COLOURS)]  # sorted paths
    assert images.shape == (3, 1, 12, 12) and images.dtype == np.uint8
    ids, images = dm.read_inputs(new / "red" / "000.png")  # or one file
    assert ids == ["000.png"] and images.shape == (1, 1, 12, 12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root.mkdir(), "holds no images in class folders"),
        (lambda root: (root / "cat").mkdir(parents=True), "holds no images in class folders"),
        (lambda root: write_image_folder(root, classes=["cat"]), "has one class folder, 'cat'"),
        (lambda root: None, "is not a folder"),
    ],
    ids=["empty", "empty-class", "one-class", "missing"],
)
def test_folders_that_cannot_train_a_classifier(tmp_path: Path, make, message: str) -> None:
    make(tmp_path / "images")
    with pytest.raises(DataError, match=message):
        folder(tmp_path / "images")


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "images", per_class=2)
    (root / "red" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "blue" / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError) as raised:
        folder(root)
    message = str(raised.value)
    assert "2 of 8 files cannot be read as images" in message
    assert "red/broken.png (" in message and "blue/empty.jpg (" in message


def test_images_of_different_sizes_need_an_image_size(pets: Path) -> None:
    with pytest.raises(DataError, match=r"differ in size .*set data.image_size=\[H,W\]"):
        folder(pets, image_size=None)


def test_train_a_cnn_on_an_image_folder(make_config, pets: Path) -> None:
    cfg = make_config(
        "data=images",
        f"data.path={pets}",
        "data.image_size=[12,12]",
        "model=cnn",
        "trainer.max_epochs=8",
        "logger=none",
    )
    metrics = train(cfg)
    assert metrics["val/acc"] >= 0.75  # the colour is easy to learn


def test_a_truncated_image_is_unreadable(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "images", per_class=2)
    image = root / "green" / "000.png"
    Image.open(image).save(image)  # still whole
    image.write_bytes(image.read_bytes()[:60])  # cut short, as by an interrupted copy
    with pytest.raises(DataError, match="green/000.png"):
        folder(root)


def test_a_folder_of_new_images(tmp_path: Path) -> None:
    pets = write_image_folder(tmp_path / "pets", per_class=12)
    images = ("data=images", f"data.path={pets}", "data.image_size=[12,12]", "model=cnn")
    train(compose_config(tmp_path / "run", *images, *QUICK, "trainer.max_epochs=8"))
    new = write_image_folder(tmp_path / "new", per_class=3, sizes=[(40, 30)], seed=5)
    rows = predict_with(tmp_path, tmp_path / "run/checkpoints/last.ckpt", f"input={new}")
    assert [row["id"] for row in rows] == [
        f"{c}/{i:03d}.{'jpg' if i == 2 else 'png'}" for c in sorted(COLOURS) for i in range(3)
    ]
    right = sum(row["prediction"] == row["id"].split("/")[0] for row in rows)
    assert right >= 8
    assert {f"probability_{c}" for c in COLOURS} <= set(rows[0])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The error catalogue's folder (tests/test_errors.py), for this feature's cases."""
    return make_workdir(tmp_path_factory.mktemp("catalogue"))


@pytest.mark.slow
def test_bad_image_folders_get_one_line(workdir: Path) -> None:
    write_image_folder(workdir / "one_class", per_class=2, classes=["cat"])
    write_image_folder(workdir / "broken", per_class=2)
    (workdir / "broken" / "red" / "bad.png").write_bytes(b"\x89PNG cut short")
    catalogue = [
        (["data=images", "data.path={tmp}/empty"], "holds no images in class folders"),
        (["data=images", "data.path={tmp}/one_class"], "has one class folder, 'cat'"),
        (["data=images", "data.path={tmp}/broken"], "1 of 7 files cannot be read as images"),
        (["data=digits", "model=resnet18", "model.net.weights=DEFAULT"], "could not be fetched"),
    ]
    assert_one_line_errors(catalogue, workdir)
