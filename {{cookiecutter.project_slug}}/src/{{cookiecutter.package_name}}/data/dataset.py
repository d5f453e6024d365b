"""A map-style `Dataset` over in-memory arrays, with transforms, served per sample or per batch."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

Transform = Callable[[Any], Any]


class ArrayDataset(Dataset):
    """Pairs (features[i], targets[i]); `transform` and `target_transform` run on each read.

    The arrays stay as they were loaded (numpy); the transforms turn samples into what the
    model needs, so the same dataset serves training, evaluation and inspection.

    `dataset[i]` reads one sample, as in any `Dataset`. `DataLoader` calls `__getitems__` when it
    exists: here it indexes the arrays once for the whole batch and runs each transform once on
    it, instead of one Python call per sample followed by stacking (the transforms' contract is
    in transforms.py). The batch comes out already collated, so loaders over this dataset pass
    `collate_fn=ArrayDataset.collate` (the project's DataModules do).

    With `rows`, the dataset is those rows of `features` (a split of a table kept whole, e.g.
    memory-mapped), read only when a batch asks for them; `targets` are then the split's own.
    """

    def __init__(
        self,
        features: np.ndarray,
        targets: np.ndarray,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        if len(features if rows is None else rows) != len(targets):
            raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
        self.features = features
        self.targets = targets
        self.transform = transform
        self.target_transform = target_transform
        self.rows = rows

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        row = index if self.rows is None else self.rows[index]
        return self._apply(self.features[row], self.targets[index])

    def __getitems__(self, indices: Sequence[int]) -> tuple[Any, Any]:
        """The batch at `indices` as (features, targets), each transformed once."""
        index = np.asarray(indices)
        rows = index if self.rows is None else self.rows[index]
        return self._apply(self.features[rows], self.targets[index])

    def _apply(self, x: Any, y: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    @staticmethod
    def collate(batch: Sequence[Any]) -> Sequence[Any]:
        """`__getitems__` already returns a collated (features, targets): nothing left to stack.

        Typed as a sequence, not the pair it is: `DataLoader` types `collate_fn` for the list of
        samples that datasets without `__getitems__` give it.
        """
        return batch
