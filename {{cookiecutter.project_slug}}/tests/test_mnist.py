"""MNIST: torchvision's files, read, written and downloaded only when asked."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from {{ cookiecutter.package_name }}.data.images import channel_statistics
from {{ cookiecutter.package_name }}.data.mnist import MNISTDataModule, write_mnist
from {{ cookiecutter.package_name }}.data.transforms import Compose
from {{ cookiecutter.package_name }}.errors import DataError

from .test_errors import assert_one_line_errors, make_workdir
from .test_images import eval_steps


def write_tiny_mnist(root: Path, num_train: int = 40, num_test: int = 20) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", num_train), ("test", num_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, size=(n, 28, 28))
        images[np.arange(n), labels, labels] = 255  # a mark that depends on the class
        write_mnist(root, split, images, labels)


def mnist(data_dir: Path, **settings: float) -> MNISTDataModule:
    """MNIST read from `data_dir` only (no download)."""
    return MNISTDataModule(data_dir=str(data_dir), download=False, **settings)


def test_mnist_reads_idx_files_through_torchvision(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path)
    dm = mnist(tmp_path, val_fraction=0.25, batch_size=8)
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (30, 10, 20)
    np.testing.assert_array_equal(dm.test_set.targets, np.arange(20) % 10)  # the official split
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 1, 28, 28) and y.dtype == torch.int64


def test_mnist_downloads_in_prepare_data_and_only_reads_in_setup(tmp_path: Path) -> None:
    dm = mnist(tmp_path)
    with pytest.raises(DataError, match="MNIST is not in"):
        dm.setup()  # setup() never downloads: Lightning runs it in every process
    write_tiny_mnist(tmp_path)
    with_download = MNISTDataModule(data_dir=str(tmp_path), download=True)
    with_download.prepare_data()  # the files are there: nothing to fetch
    with_download.setup()
    assert len(with_download.test_set) == 20


def test_written_mnist_files_read_back_through_torchvision(tmp_path: Path) -> None:
    from torchvision.datasets import MNIST

    images = np.random.default_rng(1).integers(0, 256, size=(12, 28, 28)).astype(np.uint8)
    labels = np.arange(12) % 10
    raw = write_mnist(tmp_path, "test", images, labels)
    assert raw == tmp_path / "MNIST" / "raw"
    write_mnist(tmp_path, "train", images[:5], labels[:5])
    read = MNIST(str(tmp_path), train=False, download=False)
    np.testing.assert_array_equal(read.data.numpy(), images)
    np.testing.assert_array_equal(read.targets.numpy(), labels)


def test_channel_statistics_are_summed_in_chunks_without_a_float_copy(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path, num_train=300)
    dm = mnist(tmp_path, val_fraction=0.1)
    dm.setup()
    features = dm.train_set.features
    to_float = Compose(eval_steps(dm)[:-1])  # every step before Normalize
    sizes: list[int] = []

    def recorded(batch: np.ndarray) -> torch.Tensor:
        sizes.append(len(batch))
        return to_float(batch)

    mean, std = channel_statistics(recorded, features, chunk_values=64 * 28 * 28)
    assert max(sizes) == 64 and sum(sizes) == len(features)
    pixels = to_float(features).double()  # the whole set in float64, for reference only
    torch.testing.assert_close(mean, pixels.mean(dim=(0, 2, 3)).float())
    torch.testing.assert_close(std, pixels.std(dim=(0, 2, 3), correction=0).float())
    normalize = eval_steps(dm)[-1]
    assert isinstance(normalize, v2.Normalize)
    assert normalize.mean == pytest.approx(mean.tolist()) and normalize.std == pytest.approx(
        std.tolist()
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The error catalogue's folder (tests/test_errors.py), for this feature's cases."""
    return make_workdir(tmp_path_factory.mktemp("catalogue"))


@pytest.mark.slow
def test_missing_or_broken_mnist_files_get_one_line(workdir: Path) -> None:
    raw = workdir / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if "images" in name else "idx1"
        (raw / f"{name}-{kind}-ubyte").write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    catalogue = [
        (["data=mnist", "data.download=false", "data.data_dir={tmp}/empty"], "MNIST is not in"),
        (["data=mnist", "data.download=false", "data.data_dir={tmp}/mnist"], "MNIST files in"),
    ]
    assert_one_line_errors(catalogue, workdir)
