"""What every in-memory DataModule shares: splits, training-only statistics and the DataLoaders."""

from abc import ABC, abstractmethod
from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from ..errors import ConfigError
from ..models.metrics import check_task
from .dataset import ArrayDataset, Transform
from .sampling import TensorBatchSampler
from .transforms import Compose, Standardize, ToTensor

SPLITS = ("train", "val", "test")


class ArrayDataModule(L.LightningDataModule, ABC):
    """Loads (features, targets) arrays once, splits them train/val/test and serves DataLoaders.

    Subclasses only say where the arrays come from (`load_arrays`), and may replace the
    transforms (`_feature_transform` for every split, `_train_transform` for training only, where
    augmentation goes). Regression targets are float (N, num_outputs); classification targets are
    class indices (N,) below `num_outputs`, the number of classes. The split is drawn from
    `split_seed`, which is independent of the training seed, so runs with different seeds are
    compared on the same validation and test samples.
    """

    def __init__(
        self,
        task: str,
        num_features: int,
        num_outputs: int,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        standardize: bool = True,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        split_seed: int = 0,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        check_task(task)
        if min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
            raise ConfigError(
                f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} must be"
                " at least 0 and leave samples for training (their sum below 1)"
            )
        if batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be a positive integer")
        if num_workers < 0:
            raise ConfigError(f"data.num_workers={num_workers} must be 0 (main process) or more")
        self.save_hyperparameters(logger=False)
        for key, value in self.hparams.items():
            # Config lists arrive as ListConfig; checkpoints loaded with weights_only=True (the
            # safe default) accept plain lists only.
            if isinstance(value, Sequence) and not isinstance(value, str):
                self.hparams[key] = list(value)
        self.task = task
        self.num_features = num_features
        self.num_outputs = num_outputs
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.standardize = standardize
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.split_seed = split_seed
        # One sample's shape: (num_features,) for tables, (C, H, W) for images.
        self.input_shape = tuple(input_shape) if input_shape else (num_features,)
        if int(np.prod(self.input_shape)) != num_features:
            raise ConfigError(
                f"data.input_shape={list(self.input_shape)} holds {int(np.prod(self.input_shape))}"
                f" values but data.num_features={num_features}; make them agree"
            )
        self.stored_shape = self.input_shape  # as load_arrays() returns it; transforms may resize
        self._splits: dict[str, ArrayDataset] = {}  # filled by setup()

    @abstractmethod
    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples as (features (N, *input_shape), targets (N, O) or class indices (N,))."""

    def setup(self, stage: str | None = None) -> None:
        if self._splits:  # Lightning calls setup once per stage; load once
            return
        features, targets = self.load_arrays()
        if features.shape[1:] != self.stored_shape:
            raise ConfigError(
                f"data.num_features={self.num_features} (input shape {list(self.stored_shape)})"
                f" but the data has samples of shape {list(features.shape[1:])}; set"
                f" data.num_features={int(np.prod(features.shape[1:]))} (and data.input_shape)"
            )
        targets = self._check_targets(targets)
        train_idx, val_idx, test_idx = self._split(len(features))
        self.feature_transform = self._feature_transform(features[train_idx])
        self.train_transform = self._train_transform(features[train_idx])
        self.target_transform: Transform = ToTensor(
            torch.int64 if self.task == "classification" else torch.float32
        )
        self._splits = {
            split: ArrayDataset(features[idx], targets[idx], transform, self.target_transform)
            for split, idx, transform in (
                ("train", train_idx, self.train_transform),
                ("val", val_idx, self.feature_transform),
                ("test", test_idx, self.feature_transform),
            )
        }

    def split(self, name: str) -> ArrayDataset:
        """The dataset of split `name` ("train", "val" or "test"), once setup() has run."""
        if name not in SPLITS:
            raise ValueError(f"split={name!r} is not a split; use one of: {', '.join(SPLITS)}")
        if not self._splits:
            raise RuntimeError("call setup() before reading a split or asking for a DataLoader")
        return self._splits[name]

    @property
    def train_set(self) -> ArrayDataset:
        return self.split("train")

    @property
    def val_set(self) -> ArrayDataset:
        return self.split("val")

    @property
    def test_set(self) -> ArrayDataset:
        return self.split("test")

    def _check_targets(self, targets: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            targets = targets.reshape(-1)
            if len(targets) and (targets.min() < 0 or targets.max() >= self.num_outputs):
                raise ConfigError(
                    f"data.num_outputs={self.num_outputs} classes but the labels run from"
                    f" {targets.min()} to {targets.max()}; set data.num_outputs={targets.max() + 1}"
                )
            return targets.astype(np.int64)
        targets = targets.reshape(len(targets), -1)  # (N,) -> (N, 1): what nn.Linear outputs
        if targets.shape[1] != self.num_outputs:
            raise ConfigError(
                f"data.num_outputs={self.num_outputs} but the targets have"
                f" {targets.shape[1]} columns"
            )
        return targets

    def _split(self, num_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.random.default_rng(self.split_seed).permutation(num_samples)
        num_val = round(num_samples * self.val_fraction)
        num_test = round(num_samples * self.test_fraction)
        num_train = num_samples - num_val - num_test
        if num_train < 1:
            raise ConfigError(f"no training samples left out of {num_samples}; lower the fractions")
        val_end = num_train + num_val
        return order[:num_train], order[num_train:val_end], order[val_end:]

    def _feature_transform(self, train_features: np.ndarray) -> Compose:
        steps: list[Transform] = [ToTensor(torch.float32)]
        if self.standardize:
            steps.append(Standardize.fit(train_features))  # training statistics only
        return Compose(steps)

    def _train_transform(self, train_features: np.ndarray) -> Transform:
        return self.feature_transform  # no augmentation unless a subclass adds some

    def train_dataloader(self) -> DataLoader:
        # Trainer(overfit_batches=k) wants the same k batches every epoch: no shuffling then.
        overfitting = bool(getattr(self.trainer, "overfit_batches", 0))
        return self._loader(self.train_set, shuffle=not overfitting)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def split_dataloader(self, split: str) -> DataLoader:
        """The loader of any split, in dataset order: row i of its output is sample i.

        Every split is read as the model is evaluated on it: training augmentation left out.
        """
        dataset = self.split(split)
        plain = ArrayDataset(
            dataset.features, dataset.targets, self.feature_transform, self.target_transform
        )
        return self._loader(plain, shuffle=False)

    def _loader(self, dataset: ArrayDataset, shuffle: bool) -> DataLoader:
        order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        return DataLoader(
            dataset,
            # Whole index tensors per batch, each read with one __getitems__ call.
            batch_sampler=TensorBatchSampler(order, batch_size=self.batch_size, drop_last=False),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,  # keep worker processes alive between epochs
            collate_fn=ArrayDataset.collate,  # batches come whole from __getitems__
        )
