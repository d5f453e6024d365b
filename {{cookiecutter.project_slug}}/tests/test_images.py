"""Image data: digits and MNIST through torchvision transforms, served per sample or per batch."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from {{ cookiecutter.package_name }}.data import (
    Compose,
    DigitsDataModule,
    MNISTDataModule,
    PerItemDataset,
    PerSample,
)
from {{ cookiecutter.package_name }}.errors import DataError


@pytest.fixture(scope="module")
def digits() -> DigitsDataModule:
    dm = DigitsDataModule(batch_size=32, test_fraction=0.2)
    dm.setup()
    return dm


def test_digits_are_real_8x8_images_split_without_overlap(digits: DigitsDataModule) -> None:
    sets = (digits.train_set, digits.val_set, digits.test_set)
    assert sum(len(s) for s in sets) == 1797
    assert digits.train_set.features.shape[1:] == (1, 8, 8)
    assert digits.train_set.features.dtype == np.uint8
    assert set(digits.train_set.targets.tolist()) == set(range(10))
    assert digits.input_shape == (1, 8, 8) and digits.num_outputs == 10  # from the images
    x, y = next(iter(digits.val_dataloader()))
    assert x.shape == (32, 1, 8, 8) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64


def test_normalisation_uses_training_pixels_only(digits: DigitsDataModule) -> None:
    train = digits.eval_transform(digits.train_set.features)  # no augmentation
    assert train.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert train.std(correction=0).item() == pytest.approx(1.0, abs=1e-3)
    test = digits.eval_transform(digits.test_set.features)
    assert test.mean().item() != pytest.approx(0.0, abs=1e-4)  # other pixels, train statistics


def test_augmentation_is_for_training_only(digits: DigitsDataModule) -> None:
    train_transform = digits.train_set.transform
    assert isinstance(train_transform, Compose)
    assert any(isinstance(t, PerSample) for t in train_transform.transforms)
    assert digits.val_set.transform is digits.test_set.transform is digits.eval_transform
    assert not any(isinstance(t, PerSample) for t in digits.eval_transform.transforms)
    types = {type(t) for t in train_transform.transforms}
    assert {v2.ToDtype, v2.Normalize} <= types
    reads = [digits.train_set[0][0] for _ in range(3)]
    assert not torch.equal(reads[0], reads[1]) and not torch.equal(reads[1], reads[2])
    torch.testing.assert_close(digits.test_set[0][0], digits.test_set[0][0])


@pytest.mark.parametrize("split", ["train", "test"])
def test_batch_path_equals_the_per_item_path(digits: DigitsDataModule, split: str) -> None:
    """`__getitems__` (one call per batch) gives exactly what reading sample by sample gives."""
    dataset = getattr(digits, f"{split}_set")
    indices = list(range(0, 200, 3))
    torch.manual_seed(0)
    per_item = [dataset[i] for i in indices]
    torch.manual_seed(0)
    x, y = dataset.__getitems__(indices)
    torch.testing.assert_close(x, torch.stack([item[0] for item in per_item]))
    torch.testing.assert_close(y, torch.stack([item[1] for item in per_item]))
    # And through DataLoaders: the batched loader vs per-sample reads + default collate.
    torch.manual_seed(1)
    batched = list(DataLoader(dataset, batch_size=50, collate_fn=dataset.collate))
    torch.manual_seed(1)
    naive = list(DataLoader(PerItemDataset(dataset), batch_size=50))  # default collate stacks
    assert len(batched) == len(naive)
    for (bx, by), (nx, ny) in zip(batched, naive, strict=True):
        torch.testing.assert_close(bx, nx)
        torch.testing.assert_close(by, ny)


def test_split_loaders_serve_the_training_images_without_augmentation(
    digits: DigitsDataModule,
) -> None:
    # What predict.py reads: the same tensors on every pass, although training augments.
    first, second = (next(iter(digits.split_dataloader("train"))) for _ in range(2))
    torch.testing.assert_close(first, second)
    x, _ = digits.train_set.__getitems__(list(range(len(first[0]))))
    assert not torch.equal(x, first[0])  # the training loader's own reads are warped


def test_resizing_changes_the_input_shape_the_model_sees() -> None:
    dm = DigitsDataModule(image_size=[16, 16])
    dm.setup()
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (1, 16, 16) == dm.input_shape  # no shape to write by hand
    assert any(isinstance(t, v2.Resize) for t in dm.eval_transform.transforms)


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: magic (0, 0, uint8 code, ndim), big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_tiny_mnist(root: Path, num_train: int = 40, num_test: int = 20) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, size=(n, 28, 28))
        images[np.arange(n), labels, labels] = 255  # a mark that depends on the class
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


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
