from collections.abc import Iterable
from functools import partial
from typing import Any, cast

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import (
    BatchSampler,
    Dataset,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)

from {{ cookiecutter.package_name }}.data.datamodule import ArrayDataModule
from {{ cookiecutter.package_name }}.data.regression import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.data.sampling import TensorBatchSampler
from {{ cookiecutter.package_name }}.data.transforms import Compose, Standardize
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.models.linear import Linear
from {{ cookiecutter.package_name }}.models.supervised import SupervisedModule


@pytest.fixture(scope="module")
def datamodule() -> SyntheticRegressionDataModule:
    dm = SyntheticRegressionDataModule(num_samples=1000, num_features=5, batch_size=32, seed=3)
    dm.setup("fit")
    return dm


def test_splits_partition_the_samples(datamodule: SyntheticRegressionDataModule) -> None:
    sizes = [len(datamodule.train_set), len(datamodule.val_set), len(datamodule.test_set)]
    assert sizes == [800, 100, 100]
    rows = {
        name: {tuple(row) for row in split.features}
        for name, split in [
            ("train", datamodule.train_set),
            ("val", datamodule.val_set),
            ("test", datamodule.test_set),
        ]
    }
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"]
    assert not rows["val"] & rows["test"]


def test_split_is_reproducible_and_independent_of_the_training_seed() -> None:
    first, second = (SyntheticRegressionDataModule(num_samples=200, seed=1) for _ in range(2))
    torch.manual_seed(0)
    first.setup()
    torch.manual_seed(123)  # a different training seed must not move samples between splits
    second.setup()
    np.testing.assert_array_equal(first.test_set.features, second.test_set.features)


def test_batches_have_the_declared_shapes_and_dtypes(datamodule: SyntheticRegressionDataModule):
    x, y = next(iter(datamodule.train_dataloader()))
    assert datamodule.input_shape == (5,) and datamodule.num_outputs == 1  # from the data
    assert x.shape == (32, *datamodule.input_shape) and x.dtype == torch.float32
    assert y.shape == (32, datamodule.num_outputs) and y.dtype == torch.float32


def test_standardisation_uses_training_statistics_only(datamodule: SyntheticRegressionDataModule):
    transform = datamodule.eval_transform
    assert isinstance(transform, Compose)
    train = transform(datamodule.train_set.features)
    torch.testing.assert_close(train.mean(0), torch.zeros(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(train.std(0, correction=0), torch.ones(5), atol=1e-4, rtol=0)
    # Statistics fitted on all the data would differ: none may come from val/test rows.
    standardize = transform.transforms[-1]
    assert isinstance(standardize, Standardize)
    train_mean = torch.as_tensor(datamodule.train_set.features.mean(0))
    all_mean = torch.as_tensor(datamodule.problem.features.mean(0))
    torch.testing.assert_close(standardize.mean, train_mean, atol=1e-5, rtol=0)
    assert not torch.allclose(standardize.mean, all_mean, atol=1e-5, rtol=0)
    assert datamodule.test_set.transform is transform  # val/test reuse the training statistics


def test_loaders_follow_the_settings(datamodule: SyntheticRegressionDataModule) -> None:
    train, val, test = (
        datamodule.train_dataloader(),
        datamodule.val_dataloader(),
        datamodule.test_dataloader(),
    )
    samplers = [loader.batch_sampler for loader in (train, val, test)]
    assert all(isinstance(s, TensorBatchSampler) and s.batch_size == 32 for s in samplers)
    kinds = [type(s.sampler) for s in samplers if isinstance(s, TensorBatchSampler)]
    assert kinds == [RandomSampler, SequentialSampler, SequentialSampler]  # shuffle train only
    assert train.num_workers == 0 and not train.persistent_workers


def flat(batches: Iterable[Iterable[int]]) -> list[int]:
    return [int(index) for batch in batches for index in batch]


@pytest.mark.parametrize("drop_last", [False, True])
def test_tensor_batches_cover_a_permutation_like_batch_sampler(drop_last: bool) -> None:
    data = list(range(103))
    shuffled = TensorBatchSampler(RandomSampler(data), batch_size=10, drop_last=drop_last)
    batches = list(shuffled)
    assert all(isinstance(b, torch.Tensor) for b in batches)
    assert len(batches) == len(shuffled) == (10 if drop_last else 11)
    assert [len(b) for b in batches] == [10] * 10 + ([] if drop_last else [3])
    seen = flat(batches)
    assert len(set(seen)) == len(seen) and set(seen) <= set(data)
    assert seen != sorted(seen)  # shuffled
    in_order = TensorBatchSampler(SequentialSampler(data), batch_size=10, drop_last=False)
    assert flat(in_order) == data


def test_tensor_batches_follow_the_seed() -> None:
    sampler = TensorBatchSampler(RandomSampler(range(50)), batch_size=8, drop_last=False)
    torch.manual_seed(0)
    first = flat(sampler)
    torch.manual_seed(0)
    assert flat(sampler) == first


def test_other_samplers_are_batched_as_batch_sampler_does() -> None:
    # Under DDP, Lightning rebuilds the batch sampler around a DistributedSampler: one shard each.
    data = cast(Dataset, list(range(20)))
    shards: list[DistributedSampler] = [
        DistributedSampler(data, num_replicas=2, rank=rank, shuffle=False) for rank in (0, 1)
    ]
    batches = [list(TensorBatchSampler(s, batch_size=4, drop_last=False)) for s in shards]
    assert batches == [list(BatchSampler(s, batch_size=4, drop_last=False)) for s in shards]
    assert set(flat(batches[0])).isdisjoint(flat(batches[1]))


def test_an_epoch_of_batches_is_the_whole_training_split(
    datamodule: SyntheticRegressionDataModule,
) -> None:
    xs, ys = zip(*datamodule.train_dataloader(), strict=True)
    x, y = torch.cat(xs), torch.cat(ys)
    train_set = datamodule.train_set
    full_x, full_y = train_set.__getitems__(list(range(len(train_set))))
    order, full_order = y.flatten().argsort(), full_y.flatten().argsort()
    assert torch.equal(x[order], full_x[full_order]) and torch.equal(y[order], full_y[full_order])


def test_overfit_batches_sees_the_same_batches_every_epoch() -> None:
    class RecordBatches(L.Callback):
        def __init__(self) -> None:
            self.sums: list[list[float]] = []

        def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            self.sums.append([])

        def on_train_batch_start(
            self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
        ) -> None:
            self.sums[-1].append(float(batch[1].sum()))

    dm = SyntheticRegressionDataModule(num_samples=400, num_features=3, batch_size=16)
    record = RecordBatches()
    model = SupervisedModule(net=Linear, optimizer=partial(torch.optim.SGD, lr=0.01))
    trainer = L.Trainer(
        overfit_batches=2,
        max_epochs=3,
        callbacks=[record],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    assert len(record.sums) == 3 and record.sums[0] == record.sums[1] == record.sums[2]


def test_worker_processes_persist_when_there_are_workers() -> None:
    dm = SyntheticRegressionDataModule(num_samples=100, num_workers=2, pin_memory=True)
    dm.setup()
    loader = dm.train_dataloader()
    assert loader.num_workers == 2 and loader.persistent_workers and loader.pin_memory
    x, _ = next(iter(loader))  # real worker processes load a batch
    assert x.shape[1:] == dm.input_shape


def test_split_fractions_must_leave_training_samples() -> None:
    with pytest.raises(ValueError, match="leave samples for training"):
        SyntheticRegressionDataModule(num_samples=100, val_fraction=0.6, test_fraction=0.5)


def test_shapes_and_classes_come_from_the_data() -> None:
    class Labelled(ArrayDataModule):
        task = "classification"

        def load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
            rng = np.random.default_rng(0)
            labels = rng.choice(["cat", "dog", "owl"], size=60)
            return {"train": (rng.normal(size=(60, 3, 2)).astype(np.float32), labels)}

    dm = Labelled(standardize=False)
    dm.setup()
    assert dm.input_shape == (3, 2) and dm.num_outputs == 3
    assert dm.classes == ["cat", "dog", "owl"]  # sorted names; targets are their indices
    _, y = next(iter(dm.train_dataloader()))
    assert y.dtype == torch.int64 and set(y.tolist()) <= {0, 1, 2}


def test_a_split_given_by_the_data_is_kept_and_the_others_are_drawn() -> None:
    class OwnTest(SyntheticRegressionDataModule):
        def load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
            x, y = self.problem.features, self.problem.targets
            return {"train": (x[:80], y[:80]), "test": (x[80:], y[80:])}

    dm = OwnTest(num_samples=100, val_fraction=0.25)
    dm.setup()
    assert [len(dm.train_set), len(dm.val_set), len(dm.test_set)] == [60, 20, 20]
    np.testing.assert_array_equal(dm.test_set.features, dm.problem.features[80:])


def test_non_finite_samples_are_found_at_load() -> None:
    class WithGaps(ArrayDataModule):
        def load(self):
            features = np.ones((10, 2, 3), np.float32)
            features[4, 1, 2] = np.inf
            features[7, 0, 0] = np.nan
            return {"train": (features, np.zeros((10, 1), np.float32))}

    with pytest.raises(DataError, match="train features hold 2 NaN or infinite.*row 4, column 5"):
        WithGaps().setup()
