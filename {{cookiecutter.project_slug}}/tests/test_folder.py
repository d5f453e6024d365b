"""data=images: a folder of image files, one sub-folder per class, read per batch or in memory."""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from {{ cookiecutter.package_name }}.data.folder import ImageFolderDataModule, ReadImage
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config
from .image_files import COLOURS, write_image_folder
from .test_errors import assert_one_line_errors, make_workdir
from .test_prediction import QUICK, predict_with


@pytest.fixture(scope="module")
def pets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("pets") / "pets")


def folder(path: Path, **settings: Any) -> ImageFolderDataModule:
    defaults: dict[str, Any] = {"image_size": [12, 12], "num_workers": 0, "in_memory": False}
    dm = ImageFolderDataModule(path=str(path), **(defaults | settings))
    dm.setup()
    return dm


@pytest.mark.parametrize("in_memory", [False, True])
def test_class_folders_become_classes_and_images_one_size(pets: Path, in_memory: bool) -> None:
    dm = folder(pets, test_fraction=0.25, val_fraction=0.25, batch_size=8, in_memory=in_memory)
    assert dm.classes == sorted(COLOURS) and dm.num_outputs == 3
    assert sum(len(s) for s in (dm.train_set, dm.val_set, dm.test_set)) == 36
    assert dm.input_shape == (3, 12, 12) and dm.state_dict()["sample_shape"] == [3, 12, 12]
    # in memory: decoded uint8 images; streamed: the files' paths, read when asked for
    assert (dm.train_set.features.dtype == np.uint8) == in_memory
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (8, 3, 12, 12) and x.dtype == torch.float32 and y.dtype == torch.int64
    # The label is the folder: a class's bright channel is brightest in its images.
    x, y = next(iter(dm.train_dataloader()))
    brightest = torch.tensor([COLOURS.index(dm.classes[i]) for i in y])
    assert (x.mean(dim=(2, 3)).argmax(1) == brightest).all()


def test_both_modes_read_the_same_evaluation_images(pets: Path) -> None:
    streamed, held = folder(pets), folder(pets, in_memory=True)
    first = [next(iter(dm.val_dataloader()))[0] for dm in (streamed, held)]
    assert torch.equal(*first)
    assert torch.equal(streamed.fitted["mean"], held.fitted["mean"])  # a sample of 256: all 36


def test_grey_images_and_given_split_folders(pets: Path, tmp_path: Path) -> None:
    test_dir = write_image_folder(tmp_path / "test", per_class=2, seed=1)
    dm = folder(pets, channels=1, test_path=str(test_dir), val_fraction=0.25)
    assert dm.input_shape == (1, 12, 12) and dm.val_set[0][0].shape == (1, 12, 12)
    assert len(dm.test_set) == 6 and (len(dm.train_set), len(dm.val_set)) == (27, 9)


def test_without_image_size_the_first_image_gives_it(tmp_path: Path) -> None:
    same = write_image_folder(tmp_path / "same", per_class=3, sizes=[(10, 14)])
    assert folder(same, image_size=None).input_shape == (3, 10, 14)


def test_new_images_are_read_at_the_training_size_and_channels(pets: Path, tmp_path: Path):
    dm = folder(pets, channels=1)
    new = write_image_folder(tmp_path / "new", per_class=1, sizes=[(30, 40)], seed=2)
    (new / "notes.txt").write_text("not an image")  # other files are left alone
    ids, files = dm.read_inputs(new)
    assert ids == [f"{name}/000.png" for name in sorted(COLOURS)]  # sorted paths
    x, _ = next(iter(dm.inputs_dataloader(files)))
    assert x.shape == (3, 1, 12, 12) and x.dtype == torch.float32
    ids, files = dm.read_inputs(new / "red" / "000.png")  # or one file
    assert ids == ["000.png"] and len(files) == 1


def exif_image(path: Path, orientation: int) -> Path:
    """An 8x8 grey image, white on its left half, saved with an EXIF orientation tag."""
    pixels = np.zeros((8, 8), np.uint8)
    pixels[:, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 3 = turned 180 degrees
    Image.fromarray(pixels).save(path, exif=exif)
    return path


def test_modes_are_converted_and_exif_orientation_applied(tmp_path: Path) -> None:
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    images = {
        "grey.png": Image.fromarray(np.full((8, 8), 200, np.uint8)),
        "rgba.png": Image.fromarray(np.dstack([red, np.full((8, 8), 9, np.uint8)])),
        "palette.png": Image.fromarray(red).convert("P"),
        "cmyk.jpg": Image.fromarray(red).convert("CMYK"),
        "deep.png": Image.fromarray(np.full((8, 8), 200 * 257, np.uint16)),  # 16-bit grey
    }
    rgb, grey = ReadImage(3, [8, 8]), ReadImage(1, [8, 8])
    for name, image in images.items():
        image.save(tmp_path / name)
        pixels = rgb(str(tmp_path / name))
        assert pixels.shape == (3, 8, 8) and pixels.dtype == torch.uint8, name
        expected = (200, 200, 200) if name in ("grey.png", "deep.png") else (200, 0, 0)
        assert pixels.float().mean(dim=(1, 2)).tolist() == pytest.approx(expected, abs=3), name
        assert grey(str(tmp_path / name)).shape == (1, 8, 8)
    turned = grey(str(exif_image(tmp_path / "turned.jpg", orientation=3)))[0].float()
    assert turned[:, :4].mean() < 30 and turned[:, 4:].mean() > 225  # white now on the right
    upright = grey(str(exif_image(tmp_path / "upright.jpg", orientation=1)))[0].float()
    assert upright[:, :4].mean() > 225


def test_setup_and_the_first_batch_open_only_that_batchs_files(tmp_path: Path) -> None:
    """An audit hook counts the image files opened: the statistics' sample and one batch,
    whatever the folder's size (workers=0: every open is in this process)."""
    opened: list[str] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    for per_class in (4, 40):
        root = write_image_folder(tmp_path / f"pets{per_class}", per_class=per_class)
        for settings, sampled in (({"mean": [0.5] * 3, "std": [0.2] * 3}, 0), ({}, 10)):
            opened.clear()
            dm = folder(root, batch_size=5, statistics_images=10, **settings)
            next(iter(dm.train_dataloader()))
            images = [p for p in opened if p.startswith(str(root))]
            assert len(images) == sampled + 5, (per_class, settings)


@pytest.mark.slow  # worker processes
@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="workers inherit the hook by fork"
)
def test_workers_open_at_most_the_batches_they_prefetch(tmp_path: Path) -> None:
    """setup() plus the first batch open at most batch_size x (prefetch + 1) x workers image
    files, counted in every process: the audit hook writes one byte per open to a shared file
    (os.write opens nothing), and forked workers inherit the hook."""
    root = write_image_folder(tmp_path / "pets", per_class=60)  # 180 files, 6 times the bound
    counter = os.open(tmp_path / "opens", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and str(args[0]).startswith(str(root)):
            os.write(counter, b".")

    sys.addaudithook(hook)  # for the rest of the process: so `counter` is never closed
    settings = {"mean": [0.5] * 3, "std": [0.2] * 3, "persistent_workers": False}
    dm = folder(root, batch_size=5, num_workers=2, prefetch_factor=2, **settings)
    batches = iter(dm.train_dataloader())
    next(batches)
    del batches  # the workers stop: no open can come later
    assert 5 <= (tmp_path / "opens").stat().st_size <= 5 * (2 + 1) * 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root.mkdir(), "holds no images in class folders"),
        (lambda root: (root / "cat").mkdir(parents=True), "the class folder 'cat' holds no images"),
        (lambda root: write_image_folder(root, classes=["cat"]), "has one class folder, 'cat'"),
        (lambda root: None, "is not a folder"),
        (
            lambda root: write_image_folder(root, per_class=1),
            "3 samples split as train 1, val 0, test 2 .*: the val split comes out empty",
        ),
        (
            lambda root: (write_image_folder(root), (root / "red" / "loop").symlink_to(root)),
            "a symlink loop",
        ),
    ],
    ids=["empty", "empty-class", "one-class", "missing", "one-per-class", "symlink-loop"],
)
def test_folders_that_cannot_train_a_classifier(tmp_path: Path, make, message: str) -> None:
    make(tmp_path / "images")
    with pytest.raises(DataError, match=message):
        folder(tmp_path / "images", test_fraction=0.5)


@pytest.mark.parametrize("in_memory", [False, True])
def test_a_bad_file_stops_the_run_with_its_name_or_is_skipped(tmp_path: Path, in_memory: bool):
    root = write_image_folder(tmp_path / "images", per_class=4)
    (root / "red" / "broken.png").write_bytes(b"\x89PNG not really")
    settings = {"in_memory": in_memory, "batch_size": 13, "mean": [0.5] * 3, "std": [0.2] * 3}
    with pytest.raises(DataError, match=r"red/broken.png cannot be read as an image \("):
        dm = folder(root, **settings)
        for _ in dm.train_dataloader():
            pass
    dm = folder(root, bad_images="skip", **settings)
    assert sum(len(y) for _, y in dm.train_dataloader()) == len(dm.train_set) - (not in_memory)


def test_an_image_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match="40x30 pixels, over the limit of 1,000"):
        ReadImage(3, [8, 8], max_pixels=1000)(str(tmp_path / "big.png"))


def test_a_truncated_image_is_unreadable(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "images", per_class=2)
    image = root / "green" / "000.png"
    image.write_bytes(image.read_bytes()[:60])  # cut short, as by an interrupted copy
    with pytest.raises(DataError, match="green/000.png"):
        folder(root, in_memory=True)


def test_train_a_cnn_on_an_image_folder(make_config, pets: Path) -> None:
    cfg = make_config(
        "data=images",
        f"data.path={pets}",
        "data.image_size=[12,12]",
        "data.crop_scale=[0.8,1.0]",
        "model=cnn",
        "trainer.max_epochs=8",
        "logger=none",
    )
    metrics = train(cfg)
    assert metrics["val/acc"] >= 0.75  # the colour is easy to learn


def test_a_folder_streamed_from_disk_trains_and_predicts_new_images(tmp_path: Path) -> None:
    pets = write_image_folder(tmp_path / "pets", per_class=12)
    images = ("data=images", f"data.path={pets}", "data.image_size=[12,12]", "model=cnn")
    streamed = ("data.in_memory=false", "data.num_workers=1", "data.crop_scale=[0.8,1.0]")
    train(compose_config(tmp_path / "run", *images, *streamed, *QUICK, "trainer.max_epochs=8"))
    new = write_image_folder(tmp_path / "new", per_class=3, sizes=[(40, 30)], seed=5)
    rows = predict_with(tmp_path, tmp_path / "run/checkpoints/last.ckpt", f"input={new}")
    assert [row["id"] for row in rows] == [
        f"{c}/{i:03d}.{'jpg' if i == 2 else 'png'}" for c in sorted(COLOURS) for i in range(3)
    ]
    right = sum(row["prediction"] == row["id"].split("/")[0] for row in rows)
    assert right >= 8
    assert {f"probability_{c}" for c in COLOURS} <= set(rows[0])


LIMITED = """
import os, resource, sys
from pathlib import Path
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.training import train
from tests.conftest import compose_config
from tests.test_prediction import QUICK

task, pets, work, in_memory, limit = sys.argv[1:]
pets, work = Path(pets), Path(work)
if task == "train":
    settings = ["data=images", f"data.path={pets}", "data.image_size=[256,256]", "model=linear"]
    settings += [f"data.in_memory={in_memory}", "data.num_workers=0", "data.batch_size=16"]
    settings += ["data.statistics_images=16", *QUICK, "trainer.max_epochs=1"]
    cfg = compose_config(work / "run", *settings)
else:
    checkpoint = work / "run/checkpoints/last.ckpt"
    cfg = compose_config(work / "predicted", f"ckpt_path={checkpoint}", f"input={pets}",
                         config_name="predict")
pages = int(open("/proc/self/statm").read().split()[0])  # the address space mapped so far
size = pages * os.sysconf("SC_PAGE_SIZE") + int(limit)
resource.setrlimit(resource.RLIMIT_AS, (size, size))
if task == "train":
    print(train(cfg))
else:
    print(len(open(predict(cfg)).readlines()) - 1, "predictions")
"""


@pytest.mark.slow
def test_a_folder_larger_than_the_memory_limit_trains_and_predicts(tmp_path: Path) -> None:
    """500 images at 256x256: 98 MB of pixels (decoding them whole holds them twice), each
    process allowed 150 MB more address space than it had once it had imported everything."""
    rng = np.random.default_rng(0)
    for name in COLOURS[:2]:
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(250):
            pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.jpg", quality=30)

    def run(task: str, in_memory: str) -> subprocess.CompletedProcess:
        args = [task, tmp_path / "pets", tmp_path / in_memory, in_memory, 150 * 2**20]
        return subprocess.run(
            [sys.executable, "-c", LIMITED, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).parents[1],
            env=os.environ | {"MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1"},
        )

    for task in ("train", "predict"):
        streamed = run(task, "false")
        assert streamed.returncode == 0, streamed.stderr[-3000:]
    assert streamed.stdout.strip().endswith("500 predictions")
    held = run("train", "true")  # the same folder decoded whole does not fit: the limit is real
    assert held.returncode != 0 and "allocate memory" in held.stderr, held.stderr[-3000:]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The error catalogue's folder (tests/test_errors.py), for this feature's cases."""
    return make_workdir(tmp_path_factory.mktemp("catalogue"))


@pytest.mark.slow
def test_bad_image_folders_get_one_line(workdir: Path) -> None:
    write_image_folder(workdir / "one_class", per_class=2, classes=["cat"])
    write_image_folder(workdir / "one_each", per_class=1)
    write_image_folder(workdir / "empty_class", per_class=2)
    (workdir / "empty_class" / "mouse").mkdir()
    write_image_folder(workdir / "loop", per_class=2)
    (workdir / "loop" / "red" / "again").symlink_to(workdir / "loop")
    for name, content in (("broken", b"\x89PNG cut short"), ("not_image", b"just words")):
        write_image_folder(workdir / name, per_class=20)
        (workdir / name / "red" / "bad.png").write_bytes(content)
    write_image_folder(workdir / "huge", per_class=20, sizes=[(40, 30)])
    streamed = ["data=images", "data.in_memory=false", "data.num_workers=2"]
    catalogue = [
        (["data=images", "data.path={tmp}/empty"], "holds no images in class folders"),
        (["data=images", "data.path={tmp}/one_class"], "has one class folder, 'cat'"),
        (["data=images", "data.path={tmp}/empty_class"], "class folder 'mouse' holds no images"),
        (["data=images", "data.path={tmp}/one_each"], "3 samples split as train 3, val 0, test 0 "),
        (["data=images", "data.path={tmp}/loop"], "a symlink loop, or two links to one folder"),
        ([*streamed, "data.path={tmp}/broken"], "broken/red/bad.png cannot be read as an image"),
        ([*streamed, "data.path={tmp}/not_image"], "red/bad.png cannot be read as an image"),
        ([*streamed, "data.path={tmp}/huge", "data.max_image_pixels=1000"], "over the limit"),
        (["data=images", "data.bad_images=maybe"], "data.bad_images=maybe: use one of stop, skip"),
        (["data=digits", "model=resnet18", "model.net.weights=DEFAULT"], "could not be fetched"),
    ]
    assert_one_line_errors(catalogue, workdir)
