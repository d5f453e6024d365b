"""Transform classes: callable objects that turn stored samples into what the model needs.

The contract, for every transform here and in the DataModules: it takes one sample, or a batch
of samples stacked along a new leading axis, and returns the same kind. `dataset[i]` applies it
to one sample, as any `Dataset` does; `ArrayDataset.__getitems__` applies it once to a whole
batch, which is where the speed of the project's loaders comes from. Elementwise and broadcasting
operations (`ToTensor`, `Standardize`, torchvision's `ToDtype`, `Resize`, `Normalize`) satisfy it
as they are; a random transform that must draw per sample is wrapped in `PerSample`.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


class Compose:
    """Applies transforms in order: `Compose([ToTensor(), Standardize(mean, std)])(sample)`."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Any) -> Any:
        for transform in self.transforms:
            sample = transform(sample)
        return sample

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class ToTensor:
    """numpy array (or number) -> tensor of an explicit dtype; float32 is what nn layers expect."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype

    def __call__(self, sample: np.ndarray | float) -> Tensor:
        return torch.as_tensor(sample, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"ToTensor(dtype={self.dtype})"


class Standardize:
    """(x - mean) / std per feature.

    Fit it on the training split only (`Standardize.fit(train_features)`): statistics taken
    from validation or test data would leak them into training.
    """

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        # A constant feature has std 0; dividing by 1 keeps it finite (and at 0 after centring).
        self.mean = mean
        self.std = torch.where(std > 0, std, torch.ones_like(std))

    @classmethod
    def fit(cls, data: np.ndarray | Tensor) -> "Standardize":
        """Statistics over the first axis of (N, F) data."""
        data = torch.as_tensor(data, dtype=torch.float64)  # float64: exact sums over many rows
        mean = data.mean(dim=0)
        std = data.std(dim=0, correction=0)
        return cls(mean.float(), std.float())

    def __call__(self, sample: Tensor) -> Tensor:
        return (sample - self.mean) / self.std

    def inverse(self, sample: Tensor) -> Tensor:
        """Back to the original units."""
        return sample * self.std + self.mean

    def __repr__(self) -> str:
        return f"Standardize(features={self.mean.numel()})"


class PerSample:
    """Runs a random transform on each sample of a batch, each with its own random draw.

    torchvision's random transforms draw one set of parameters per call, so a whole batch
    would get the same rotation. A single sample (`sample_ndim` dims) passes straight through;
    a batch is transformed sample by sample, in order, so it consumes the random numbers
    exactly as reading the samples one by one would.
    """

    def __init__(self, transform: Callable[[Tensor], Tensor], sample_ndim: int = 3) -> None:
        self.transform = transform
        self.sample_ndim = sample_ndim

    def __call__(self, sample: Tensor) -> Tensor:
        if sample.ndim == self.sample_ndim:
            return self.transform(sample)
        return torch.stack([self.transform(item) for item in sample])

    def __repr__(self) -> str:
        return f"PerSample({self.transform!r})"
