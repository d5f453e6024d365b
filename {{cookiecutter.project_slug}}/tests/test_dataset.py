import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from {{ cookiecutter.package_name }}.data.dataset import ArrayDataset
from {{ cookiecutter.package_name }}.data.regression import make_linear_regression
from {{ cookiecutter.package_name }}.data.transforms import ToTensor


def test_dataset_len_getitem_and_transforms() -> None:
    features = np.arange(12, dtype=np.float64).reshape(6, 2)
    targets = np.arange(6, dtype=np.float64)
    dataset = ArrayDataset(features, targets, transform=ToTensor(), target_transform=ToTensor())
    assert len(dataset) == 6
    x, y = dataset[4]
    assert x.dtype == torch.float32 and x.tolist() == [8.0, 9.0]
    assert y.dtype == torch.float32 and y.item() == 4.0


def test_dataset_without_transform_returns_raw_samples() -> None:
    dataset = ArrayDataset(np.ones((3, 2)), np.zeros(3))
    x, _ = dataset[0]
    assert isinstance(x, np.ndarray)


def test_dataset_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="3 feature rows but 2 targets"):
        ArrayDataset(np.ones((3, 2)), np.zeros(2))


def test_dataloader_batches_the_dataset() -> None:
    dataset = ArrayDataset(np.ones((10, 3)), np.zeros((10, 1)), ToTensor(), ToTensor())
    loader = DataLoader(dataset, batch_size=4, shuffle=True, collate_fn=dataset.collate)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert tuple(batches[0][1].shape) == (4, 1)


def test_synthetic_data_is_deterministic_and_follows_the_linear_model() -> None:
    a = make_linear_regression(500, 3, num_outputs=2, noise=0.1, seed=7)
    b = make_linear_regression(500, 3, num_outputs=2, noise=0.1, seed=7)
    c = make_linear_regression(500, 3, num_outputs=2, noise=0.1, seed=8)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.features, c.features)
    assert a.features.shape == (500, 3) and a.targets.shape == (500, 2)
    assert a.features.dtype == a.targets.dtype == np.float32
    residual = a.targets - (a.features @ a.weight.T + a.bias)
    assert residual.std() == pytest.approx(0.1, rel=0.15)  # what is left is the noise
