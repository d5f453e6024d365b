"""What every in-memory DataModule shares: splits, training-only statistics and the DataLoaders."""

from collections.abc import Mapping

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from ..errors import DataError
from .dataset import ArrayDataset, Transform
from .sampling import TensorBatchSampler
from .transforms import Compose, Standardize, ToTensor

SPLITS = ("train", "val", "test")
Arrays = tuple[np.ndarray, np.ndarray]  # (features (N, ...), targets (N, ...))


def check_finite(what: str, values: np.ndarray) -> None:
    """Refuses NaN or infinite numbers, naming the first one's row and column: found here,
    not as a training loss that becomes NaN and blames the learning rate."""
    if not np.issubdtype(values.dtype, np.floating):
        return  # integers, labels and images cannot hold NaN
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        value = values.reshape(len(values), -1)[row, column]
        raise DataError(
            f"the {what} hold {bad.sum()} NaN or infinite value(s), the first in row {row},"
            f" column {column} ({value}); fill or drop them before training"
        )


class ArrayDataModule(L.LightningDataModule):
    """Samples held in memory as arrays, split train/val/test, served by DataLoaders.

    A subclass says where the samples come from (`load()`) and may change the transforms
    (`transforms()`: one for every split, one for training, where augmentation goes). Its own
    arguments come first; the rest pass through `**kwargs` to this class.

    After `setup()` the DataModule knows what a model needs: its `task` (`regression` or
    `classification`), one sample's `input_shape` as the model sees it (after the transforms),
    and `num_outputs` (target columns, or classes, whose names are in `classes`). The split is
    drawn from `split_seed`, independent of the training seed, so runs with different seeds are
    compared on the same validation and test samples.
    """

    task = "regression"

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        standardize: bool = True,
    ) -> None:
        super().__init__()
        if min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
            raise ValueError("val_fraction and test_fraction must be >= 0, their sum below 1")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.standardize = standardize
        self.splits: dict[str, ArrayDataset] = {}  # filled by setup()
        self.classes: list[str] = []  # classification: the class of each index

    def load(self) -> Mapping[str, Arrays]:
        """The samples by split, e.g. `{"train": (x, y)}`: a split left out is drawn from the
        training samples (`val_fraction`, `test_fraction`). Features are (N, *sample shape);
        targets (N, O) values for regression, (N,) labels (numbers or names) for classification.
        """
        raise NotImplementedError

    def transforms(self, train_features: np.ndarray) -> tuple[Compose, Compose]:
        """(the transform of every split, the training split's), fitted to training data only."""
        steps: list[Transform] = [ToTensor(torch.float32)]
        if self.standardize:
            steps.append(Standardize.fit(train_features))  # training statistics: no leakage
        transform = Compose(steps)
        return transform, transform

    def setup(self, stage: str | None = None) -> None:
        if self.splits:  # Lightning calls setup once per stage; load once
            return
        loaded = dict(self.load())
        for name, (x, y) in loaded.items():
            check_finite(f"{name} features", x)
            check_finite(f"{name} targets", y)
        arrays = self._complete_splits(loaded)
        targets = self._encode_targets({name: y for name, (_, y) in arrays.items()})
        transform, train_transform = self.transforms(arrays["train"][0])
        self.target_transform = ToTensor(
            torch.int64 if self.task == "classification" else torch.float32
        )
        self.splits = {
            name: ArrayDataset(
                arrays[name][0],
                targets[name],
                train_transform if name == "train" else transform,
                self.target_transform,
            )
            for name in SPLITS
        }
        self.eval_transform = transform

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape as the model receives it: after the transforms (a resize, say)."""
        return tuple(self.split("val" if len(self.split("val")) else "train")[0][0].shape)

    @property
    def num_outputs(self) -> int:
        if self.task == "classification":
            return len(self.classes)
        return int(self.split("train").targets.shape[1])

    def split(self, name: str) -> ArrayDataset:
        """The dataset of split `name` ("train", "val" or "test"), once setup() has run."""
        if name not in SPLITS:
            raise ValueError(f"split={name!r} is not a split; use one of: {', '.join(SPLITS)}")
        if not self.splits:
            raise RuntimeError("call setup() before reading a split or asking for a DataLoader")
        return self.splits[name]

    @property
    def train_set(self) -> ArrayDataset:
        return self.split("train")

    @property
    def val_set(self) -> ArrayDataset:
        return self.split("val")

    @property
    def test_set(self) -> ArrayDataset:
        return self.split("test")

    def _complete_splits(self, arrays: dict[str, Arrays]) -> dict[str, Arrays]:
        """Draws the splits `load()` did not give from its training samples: test first, so it
        stays the same whatever `val_fraction` is, then validation."""
        missing = [name for name in ("test", "val") if name not in arrays]
        if not missing:
            return arrays
        features, targets = arrays["train"]
        fractions = {"val": self.val_fraction, "test": self.test_fraction}
        order = np.random.default_rng(self.split_seed).permutation(len(features))
        start = 0
        for name in missing:
            chosen = order[start : start + round(len(features) * fractions[name])]
            arrays[name] = (features[chosen], targets[chosen])
            start += len(chosen)
        if start >= len(features):
            raise DataError(f"no training samples left out of {len(features)}; lower the fractions")
        arrays["train"] = (features[order[start:]], targets[order[start:]])
        return arrays

    def _encode_targets(self, targets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Classification labels become class indices (kept in `classes`); regression targets
        become float (N, O) arrays, what nn.Linear outputs."""
        if self.task != "classification":
            return {name: y.reshape(len(y), -1).astype(np.float32) for name, y in targets.items()}
        labels = np.concatenate([y.reshape(-1) for y in targets.values()])
        if np.issubdtype(labels.dtype, np.integer):  # already indices: classes 0..max
            self.classes = [str(i) for i in range(int(labels.max()) + 1)] if len(labels) else []
            return {name: y.reshape(-1).astype(np.int64) for name, y in targets.items()}
        names = sorted({str(label) for label in labels})
        self.classes = names
        index = {name: i for i, name in enumerate(names)}
        return {
            name: np.array([index[str(label)] for label in y.reshape(-1)], dtype=np.int64)
            for name, y in targets.items()
        }

    def train_dataloader(self) -> DataLoader:
        # Trainer(overfit_batches=k) wants the same k batches every epoch: no shuffling then.
        overfitting = bool(getattr(self.trainer, "overfit_batches", 0))
        return self._loader(self.train_set, shuffle=not overfitting)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def split_dataloader(self, split: str) -> DataLoader:
        """The loader of any split, in dataset order, each sample read as the model is evaluated
        on it (no training augmentation): row i of the output is sample i."""
        dataset = self.split(split)
        plain = ArrayDataset(
            dataset.features, dataset.targets, self.eval_transform, self.target_transform
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
