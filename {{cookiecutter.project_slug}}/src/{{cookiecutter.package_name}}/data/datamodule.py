"""What every in-memory DataModule shares: splits, training-only statistics and the DataLoaders."""

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from ..errors import ConfigError, DataError
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

    A subclass says where the samples come from (`load()`) and may change what is learnt from the
    training split (`fit()`: statistics) and the transforms built from it (`transforms()`: one for
    every split, one for training, where augmentation goes). Its own arguments come first; the
    rest pass through `**kwargs` to this class.

    After `setup()` the DataModule knows what a model needs: its `task` (`regression` or
    `classification`), one sample's `input_shape` as the model sees it (after the transforms),
    and `num_outputs` (target columns, or classes, whose names are in `classes`). The split is
    drawn from `split_seed`, independent of the training seed, so runs with different seeds are
    compared on the same validation and test samples. With `num_folds` the samples left after
    the test split are cut into that many folds, and fold `fold` validates (k-fold
    cross-validation: every fold sees the same test split). Classification splits and folds
    keep each class's share (`split_rows()`).

    What was learnt from the training split (the classes, `fit()`'s statistics, the samples'
    shape) is the DataModule's `state_dict()`, which Lightning stores in every checkpoint and
    hands back to `load_state_dict()` when it evaluates or predicts from one; `read_inputs()`
    then reads new samples exactly as the training samples were read.
    """

    task = "regression"
    persistent_workers = True  # keep worker processes alive between epochs
    prefetch_factor = 2  # batches each worker reads ahead

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        standardize: bool = True,
        num_folds: int | None = None,
        fold: int = 0,
    ) -> None:
        super().__init__()
        if min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
            raise ConfigError(
                f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} must"
                " be in [0, 1) and leave samples for training"
            )
        if num_folds is not None and not (num_folds >= 2 and 0 <= fold < num_folds):
            raise ConfigError(
                f"data.fold={fold} with data.num_folds={num_folds}: num_folds must be at least 2"
                " and the fold one of 0 .. num_folds-1"
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.standardize = standardize
        self.num_folds = num_folds
        self.fold = fold
        self.splits: dict[str, ArrayDataset] = {}  # filled by setup()
        self.classes: list[str] = []  # classification: the class of each index
        self.fitted: dict[str, Any] = {}  # fit()'s result, or the checkpoint's
        self.sample_shape: tuple[int, ...] = ()  # one stored sample, before the transforms
        self.sample_dtype: np.dtype = np.dtype(np.float32)

    def load(self) -> Mapping[str, Arrays]:
        """The samples by split, e.g. `{"train": (x, y)}`: a split left out is drawn from the
        training samples (`val_fraction`, `test_fraction`). Features are (N, *sample shape);
        targets (N, O) values for regression, (N,) labels (numbers or names) for classification.
        """
        raise NotImplementedError

    def fit(self, train_features: np.ndarray) -> dict[str, Any]:
        """What the transforms learn from the training split, and only from it (no leakage):
        here the features' mean and standard deviation. Saved in checkpoints (tensors, numbers,
        strings), so a trained model reads new inputs as it read its training data."""
        if not self.standardize:
            return {}
        standardize = Standardize.fit(train_features)
        return {"mean": standardize.mean, "std": standardize.std}

    def transforms(self, fitted: Mapping[str, Any]) -> tuple[Transform, Transform]:
        """(the transform of every split, the training split's), built from `fit()`'s result."""
        steps: list[Transform] = [ToTensor(torch.float32)]
        if "mean" in fitted:
            steps.append(Standardize(fitted["mean"], fitted["std"]))
        transform = Compose(steps)
        return transform, transform

    def setup(self, stage: str | None = None) -> None:
        if self.splits:  # Lightning calls setup once per stage; load once
            return
        loaded = dict(self.load())
        for name, (x, y) in loaded.items():
            check_finite(f"{name} features", x)
            check_finite(f"{name} targets", y)
        features, labels = loaded.pop("train")
        rows = self.split_rows(labels, given=loaded)
        arrays = loaded | {name: (features[r], labels[r]) for name, r in rows.items()}
        targets = self._encode_targets({name: y for name, (_, y) in arrays.items()})
        features = arrays["train"][0]
        self.fitted = self.fit(features)
        self.sample_shape, self.sample_dtype = tuple(features.shape[1:]), features.dtype
        self.splits = {name: ArrayDataset(arrays[name][0], targets[name]) for name in SPLITS}
        self._build_transforms()

    def _build_transforms(self) -> None:
        """The transforms from `self.fitted`, set on every split that is loaded."""
        transform, train_transform = self.transforms(self.fitted)
        self.target_transform = ToTensor(
            torch.int64 if self.task == "classification" else torch.float32
        )
        for name, dataset in self.splits.items():
            dataset.transform = train_transform if name == "train" else transform
            dataset.target_transform = self.target_transform
        self.eval_transform = transform

    def state_dict(self) -> dict[str, Any]:
        """What was learnt from the training split; Lightning saves it in every checkpoint."""
        if not self.sample_shape:
            return {}  # nothing loaded yet
        return {
            "classes": list(self.classes),
            "fitted": dict(self.fitted),
            "sample_shape": list(self.sample_shape),
            "sample_dtype": self.sample_dtype.name,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Takes a checkpoint's `state_dict()`: the training split's statistics and classes
        replace any computed from the data loaded here, so evaluation and prediction transform
        samples exactly as training did. Called by Lightning after `setup()`, or by hand instead
        of it, before `read_inputs()`."""
        trained = list(state_dict["classes"])
        if self.splits and trained != self.classes:  # setup() came first: the data's classes
            raise DataError(
                f"the data's classes {self.classes} are not the checkpoint's {trained}: the"
                " model's outputs would be read as the wrong classes; use the data it was"
                " trained on, or classes of the same names"
            )
        self.classes = trained
        self.fitted = dict(state_dict["fitted"])
        self.sample_shape = tuple(int(n) for n in state_dict["sample_shape"])
        self.sample_dtype = np.dtype(state_dict["sample_dtype"])
        self._build_transforms()

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """New samples to predict, as stored samples (before the transforms), with one
        identifier each; subclasses that can read files implement it (CSV rows, image files).
        Called after `load_state_dict()`, so what training learnt is known."""
        raise ConfigError(
            f"input={path}: {type(self).__name__} reads no new inputs; predict one of its splits"
            " instead (split=test), or train on data that reads new inputs (data=csv)"
        )

    def inputs_dataloader(self, features: np.ndarray) -> DataLoader:
        """Batches of `read_inputs()` samples, in order, transformed as evaluation samples are.
        Zeros stand in for the targets there are none of (`predict_step` ignores them)."""
        return self.eval_loader(ArrayDataset(features, np.zeros(len(features))))

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

    def split_rows(
        self, labels: np.ndarray, groups: np.ndarray | None = None, given: Collection[str] = ()
    ) -> dict[str, np.ndarray]:
        """Row indices of each split not in `given` (splits the data comes with) among
        `len(labels)` samples: test first (`test_fraction`), so it stays the same whatever
        `val_fraction` or the fold is, then validation: `val_fraction` of all samples, or with
        `num_folds` fold `fold` of those left (scikit-learn's splitters). Classification keeps each
        class's share in every split (stratified); samples of one group (`groups`: a patient, a
        user) stay on one side of every split."""
        if "val" in given and self.num_folds is not None:
            raise DataError(
                f"data.num_folds={self.num_folds}: this data has its own validation split, so it"
                " has no folds to draw; remove data.num_folds (or give the data no validation"
                " split)"
            )
        n = len(labels)
        if groups is not None and len(np.unique(groups)) < 2:
            raise DataError(
                f"data.group_column holds one group for all {n} samples: grouped splits need at"
                " least one group per split; name a column with several groups, or set"
                " data.group_column=null"
            )
        classes = labels.reshape(n) if self.task == "classification" else None
        rows = {"train": np.random.default_rng(self.split_seed).permutation(n)}
        try:
            if "test" not in given:
                rows["train"], rows["test"] = self._hold_out(
                    rows["train"], round(n * self.test_fraction), classes, groups
                )
            if self.num_folds is not None:
                from sklearn import model_selection  # here: a plain split does without its ~1 s

                rest = rows["train"]
                pick = [None if a is None else a[rest] for a in (classes, groups)]
                kind = {(0, 0): "KFold", (1, 0): "StratifiedKFold", (0, 1): "GroupKFold"}
                name = kind.get((classes is not None, groups is not None), "StratifiedGroupKFold")
                splitter = getattr(model_selection, name)(self.num_folds)
                train, val = list(splitter.split(rest, *pick))[self.fold]
                rows["train"], rows["val"] = rest[train], rest[val]
            elif "val" not in given:
                rows["train"], rows["val"] = self._hold_out(
                    rows["train"], round(n * self.val_fraction), classes, groups
                )
        except ValueError as err:  # scikit-learn's: too few samples of a class, or groups
            raise DataError(f"{self._sizes(n, rows)}: {err}") from None
        wanted = {"train", "val"} | ({"test"} if self.test_fraction else set())
        empty = [name for name in SPLITS if name in rows and name in wanted and not len(rows[name])]
        if empty:
            raise DataError(
                f"{self._sizes(n, rows)}: the {' and '.join(empty)} split comes out empty; give"
                " more samples, or raise the empty split's fraction (data.val_fraction,"
                " data.test_fraction)"
            )
        return rows

    def _sizes(self, n: int, rows: dict[str, np.ndarray]) -> str:
        folds = f", data.num_folds={self.num_folds}" if self.num_folds else ""
        counts = ", ".join(f"{name} {len(rows[name])}" for name in SPLITS if name in rows)
        return (
            f"{n} sample{'s' * (n != 1)} split as {counts} (data.val_fraction={self.val_fraction},"
            f" data.test_fraction={self.test_fraction}{folds})"
        )

    def _hold_out(
        self, rows: np.ndarray, size: int, labels: np.ndarray | None, groups: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows kept, about `size` rows held out): whole groups, or each class's share (where
        each class has two samples and the split one per class), or the first `size` of `rows`
        (already shuffled)."""
        if size and groups is not None:
            from sklearn.model_selection import GroupShuffleSplit

            splitter = GroupShuffleSplit(test_size=size / len(rows), random_state=self.split_seed)
            kept, held = next(splitter.split(rows, groups=groups[rows]))
            return rows[kept], rows[held]
        if size and labels is not None:
            from sklearn.model_selection import train_test_split

            try:
                kept, held = train_test_split(
                    rows, test_size=size, stratify=labels[rows], random_state=self.split_seed
                )
                return kept, held
            except ValueError:  # too few samples of a class to stratify: a plain draw then
                pass
        return rows[size:], rows[:size]

    def _encode_targets(self, targets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Classification labels (numbers or names) become the indices of the sorted distinct
        labels, `classes`; regression targets become float (N, O) arrays, what nn.Linear outputs."""
        if self.task != "classification":
            return {name: y.reshape(len(y), -1).astype(np.float32) for name, y in targets.items()}
        labels = np.concatenate([y.reshape(-1) for y in targets.values()])
        kind = labels.dtype if np.issubdtype(labels.dtype, np.integer) else str  # 2 before 10
        names = np.unique(labels.astype(kind))  # sorted
        self.classes = [str(name) for name in names]
        return {k: np.searchsorted(names, y.reshape(-1).astype(kind)) for k, y in targets.items()}

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
        return self.eval_loader(ArrayDataset(dataset.features, dataset.targets, rows=dataset.rows))

    def eval_loader(self, dataset: ArrayDataset) -> DataLoader:
        """`dataset` in order, with the evaluation transforms."""
        dataset.transform, dataset.target_transform = self.eval_transform, self.target_transform
        return self._loader(dataset, shuffle=False)

    def _loader(self, dataset: ArrayDataset, shuffle: bool) -> DataLoader:
        order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        return DataLoader(
            dataset,
            # Whole index tensors per batch, each read with one __getitems__ call.
            batch_sampler=TensorBatchSampler(order, batch_size=self.batch_size, drop_last=False),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            prefetch_factor=self.prefetch_factor if self.num_workers else None,
            collate_fn=ArrayDataset.collate,  # batches come whole from __getitems__
        )
