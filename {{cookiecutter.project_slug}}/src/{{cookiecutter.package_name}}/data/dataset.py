"""A map-style `Dataset` over in-memory arrays, with per-sample transforms."""

from collections.abc import Callable
from typing import Any

import numpy as np
from torch.utils.data import Dataset

Transform = Callable[[Any], Any]


class ArrayDataset(Dataset):
    """Pairs (features[i], targets[i]); `transform` and `target_transform` run on each sample read.

    The arrays stay as they were loaded (numpy); the transforms turn each sample into what the
    model needs, so the same dataset serves training, evaluation and inspection.
    """

    def __init__(
        self,
        features: np.ndarray,
        targets: np.ndarray,
        transform: Transform | None = None,
        target_transform: Transform | None = None,
    ) -> None:
        if len(features) != len(targets):
            raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
        self.features = features
        self.targets = targets
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x, y = self.features[index], self.targets[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
