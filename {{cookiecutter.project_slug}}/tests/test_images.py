"""Image data: the digits through torchvision transforms, served per sample or per batch."""

from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from {{ cookiecutter.package_name }}.data.datamodule import ArrayDataModule
from {{ cookiecutter.package_name }}.data.dataset import ArrayDataset
from {{ cookiecutter.package_name }}.data.digits import DigitsDataModule
from {{ cookiecutter.package_name }}.data.transforms import BatchRandomAffine, Compose, PerSample
from {{ cookiecutter.package_name }}.models.cnn import CNN
from {{ cookiecutter.package_name }}.models.supervised import SupervisedModule


def eval_steps(datamodule: ArrayDataModule) -> list[Any]:
    """The steps of an image DataModule's evaluation transform (a Compose)."""
    assert isinstance(datamodule.eval_transform, Compose)
    return datamodule.eval_transform.transforms


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


def test_every_split_reads_the_same_deterministic_images(digits: DigitsDataModule) -> None:
    # Augmentation is batched, on the device, in training only: dataset[i] is what the model is
    # evaluated on, in every split, read after read.
    assert digits.train_set.transform is digits.val_set.transform is digits.eval_transform
    assert {v2.ToDtype, v2.Normalize} <= {type(t) for t in eval_steps(digits)}
    torch.testing.assert_close(digits.train_set[0][0], digits.train_set[0][0])
    assert isinstance(digits.augmentation, BatchRandomAffine)
    assert DigitsDataModule(augment=False).augmentation is None


def test_batch_augmentation_draws_per_image_and_keeps_shapes(digits: DigitsDataModule) -> None:
    image, _ = digits.train_set[0]
    batch = image.expand(16, -1, -1, -1).clone()  # one image, 16 times
    assert digits.augmentation is not None
    warped = digits.augmentation(batch)
    assert warped.shape == batch.shape and warped.dtype == batch.dtype
    assert not torch.equal(warped, batch)
    flat = warped.flatten(1)
    distances = torch.cdist(flat, flat)[~torch.eye(16, dtype=torch.bool)]
    assert distances.min() > 1e-3  # every image its own rotation and shift
    assert digits.augmentation(image).shape == image.shape  # one image: a batch of one


def test_batch_augmentation_is_reproducible_under_a_seed(digits: DigitsDataModule) -> None:
    x, _ = digits.train_set.__getitems__(list(range(32)))
    assert digits.augmentation is not None
    draws = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        draws.append(digits.augmentation(x))
    torch.testing.assert_close(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])


def test_batch_warp_is_torchvisions_affine() -> None:
    """Rotation about the centre then shift, as torchvision's `affine` does one image; non-square
    images rotate without shearing."""
    images = torch.rand(3, 2, 6, 10)
    angles, shifts = torch.tensor([30.0, -75.0, 0.0]), torch.tensor([[0, 0], [3, 1], [2, -1]])
    warped = BatchRandomAffine(10, 0.1).warp(images, angles, shifts.float())
    for image, out, angle, shift in zip(images, warped, angles, shifts, strict=True):
        expected = TF.affine(
            image,
            angle=float(angle),
            translate=shift.tolist(),
            scale=1.0,
            shear=[0.0, 0.0],
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    unchanged = BatchRandomAffine(0, 0)(images)
    torch.testing.assert_close(unchanged, images, atol=1e-6, rtol=0)


def test_warping_normalised_images_equals_normalising_warped_ones(
    digits: DigitsDataModule,
) -> None:
    raw = torch.as_tensor(digits.train_set.features[:64]).float() / 255
    normalize = eval_steps(digits)[-1]
    assert isinstance(normalize, v2.Normalize) and digits.augmentation is not None
    angles, shifts = torch.full((64,), 10.0), torch.full((64, 2), 1.5)  # black comes in
    warped_raw = BatchRandomAffine(10, 0.1).warp(raw, angles, shifts)  # fill 0: black
    expected = normalize(warped_raw)
    torch.testing.assert_close(digits.augmentation.warp(normalize(raw), angles, shifts), expected)


def test_batch_augmentation_keeps_the_pixel_statistics(digits: DigitsDataModule) -> None:
    """Intensities move, not change: the statistics stay close to the images' own and to those
    of torchvision's per-image `RandomAffine`, which this batched warp replaces."""
    x, _ = digits.train_set.__getitems__(list(range(len(digits.train_set))))
    assert digits.augmentation is not None
    torch.manual_seed(0)
    warped = digits.augmentation(x)
    per_image = PerSample(
        v2.RandomAffine(10, translate=(0.1, 0.1), interpolation=v2.InterpolationMode.BILINEAR)
    )
    raw = torch.as_tensor(digits.train_set.features).float() / 255
    reference = eval_steps(digits)[-1](per_image(raw))  # warped, then normalised
    for statistic in (torch.mean, torch.std):
        value = statistic(warped).item()
        assert value == pytest.approx(statistic(reference).item(), abs=0.03)
        assert value == pytest.approx(statistic(x).item(), abs=0.15)  # interpolation smooths
    assert warped.min().item() >= x.min().item() - 1e-5  # bilinear: no value outside the range
    assert warped.max().item() <= x.max().item() + 1e-5


@pytest.mark.parametrize(
    "device",
    [
        "meta",  # no data at all: any step that left the batch's device would fail
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
        ),
    ],
)
def test_batch_augmentation_runs_on_the_batch_device(device: str) -> None:
    augmentation = BatchRandomAffine(10, 0.1, fill=[-0.5])
    batch = torch.zeros(8, 1, 8, 8, device=device)
    out = augmentation(batch)
    assert out.device == batch.device and out.shape == batch.shape


class BatchRecorder(L.Callback):
    """The batches each stage's step receives, after the transfer to the device and its hooks."""

    def __init__(self) -> None:
        self.seen: dict[str, list[torch.Tensor]] = defaultdict(list)

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, *args) -> None:
        self.seen["train"].append(batch[0].clone())

    def on_validation_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, *args) -> None:
        self.seen["val"].append(batch[0].clone())

    def on_test_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, *args) -> None:
        self.seen["test"].append(batch[0].clone())

    def on_predict_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, *args) -> None:
        self.seen["predict"].append(batch[0].clone())


def test_only_training_batches_are_augmented(tmp_path: Path) -> None:
    dm = DigitsDataModule(batch_size=32)
    recorder = BatchRecorder()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        overfit_batches=1,  # the same first batch of each split, every epoch, in order
        callbacks=[recorder],
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = SupervisedModule(net=CNN, optimizer=partial(torch.optim.SGD, lr=0.01))
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm, verbose=False)
    trainer.predict(model, dataloaders=dm.test_dataloader())
    first_train, first_val = (
        dm.split(name).__getitems__(list(range(32)))[0] for name in ("train", "val")
    )
    first, second = recorder.seen["train"]  # the same 32 images in both epochs
    assert first.shape == second.shape == first_train.shape
    assert not torch.equal(first, first_train) and not torch.equal(first, second)  # new draws
    for batch in recorder.seen["val"]:  # the sanity check's and each epoch's
        torch.testing.assert_close(batch, first_val)
    test_images = dm.test_set.__getitems__(list(range(len(dm.test_set))))[0]
    for stage in ("test", "predict"):
        torch.testing.assert_close(torch.cat(recorder.seen[stage]), test_images)
    x, y = next(iter(dm.train_dataloader()))
    assert dm.on_after_batch_transfer((x, y), 0)[0] is x  # no trainer running: as it came


def test_per_sample_draws_each_image_as_reading_them_one_by_one() -> None:
    """`PerSample` wraps a torchvision random transform (one draw per call) for batches."""
    transform = PerSample(v2.RandomAffine(degrees=20, translate=(0.1, 0.1)))
    images = torch.rand(6, 1, 8, 8)
    torch.manual_seed(0)
    batch = transform(images)
    torch.manual_seed(0)
    one_by_one = torch.stack([transform(image) for image in images])
    torch.testing.assert_close(batch, one_by_one)
    assert not torch.equal(batch[0], transform.transform(images[0]))


class PerItemDataset(Dataset):
    """`dataset` read one `__getitem__` call per sample, as a plain `Dataset` is (no batch path):
    the reference the batch path must equal; a `DataLoader` over it stacks with default collate.
    """

    def __init__(self, dataset: ArrayDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.dataset[index]


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
    # What predict.py reads: the same tensors on every pass, in dataset order.
    first, second = (next(iter(digits.split_dataloader("train"))) for _ in range(2))
    torch.testing.assert_close(first, second)
    x, _ = digits.train_set.__getitems__(list(range(len(first[0]))))
    torch.testing.assert_close(x, first[0])


def test_resizing_changes_the_input_shape_the_model_sees() -> None:
    dm = DigitsDataModule(image_size=[16, 16])
    dm.setup()
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (1, 16, 16) == dm.input_shape  # no shape to write by hand
    assert any(isinstance(t, v2.Resize) for t in eval_steps(dm))
