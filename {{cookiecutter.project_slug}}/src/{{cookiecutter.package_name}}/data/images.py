"""In-memory image classification: uint8 images (N, C, H, W) through torchvision transforms."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import v2

from .datamodule import ArrayDataModule
from .dataset import Transform
from .transforms import BatchRandomAffine, Compose, ToTensor

STATISTICS_CHUNK = 2**18  # pixel values converted to float at a time for the statistics


class ImageDataModule(ArrayDataModule):
    """Classification of images held in memory as uint8 arrays (N, C, H, W).

    Every split, as each sample is read: uint8 -> float in [0, 1] (`v2.ToDtype`), `v2.Resize` to
    `image_size` when it is given, and (`standardize`) `v2.Normalize` with per-channel statistics
    of the training split, or with the given `mean` and `std` (e.g. ImageNet's, for pretrained
    weights). So `dataset[i]` is the image as the model is evaluated on it, in every split.
    Training batches, when `augment` is on, are then warped (rotation, shift) with a different
    draw per image by `augmentation` (`BatchRandomAffine`): one call per batch, on the device the
    batch is on, once Lightning has moved it there (`on_after_batch_transfer`), so it runs on
    the GPU with the model. Validation, test and prediction batches are never augmented.
    Subclasses implement `load()`, and `read_inputs()` where they read new image files.
    """

    task = "classification"

    def __init__(
        self,
        image_size: Sequence[int] | None = None,
        augment: bool = True,
        rotation: float = 10.0,
        translate: float = 0.1,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.image_size = list(image_size) if image_size else None  # [H, W]
        self.augment = augment
        self.rotation = rotation
        self.translate = translate
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std (one value per channel), or neither")
        given = None if mean is None else {"mean": list(mean), "std": list(std or [])}
        self.given_statistics = given  # e.g. ImageNet's, for pretrained weights

    def _to_float(self) -> list[Transform]:
        steps: list[Transform] = [ToTensor(torch.uint8), v2.ToDtype(torch.float32, scale=True)]
        if self.image_size:
            steps.append(v2.Resize(self.image_size, antialias=True))
        return steps

    def fit(self, train_features: np.ndarray) -> dict[str, Any]:
        """Per-channel mean and std of the training pixels in [0, 1] (or the given ones)."""
        if not self.standardize:
            return {}
        if self.given_statistics is not None:
            return {name: torch.tensor(values) for name, values in self.given_statistics.items()}
        mean, std = channel_statistics(Compose(self._to_float()), train_features)
        return {"mean": mean, "std": std.clamp_min(1e-6)}

    def transforms(self, fitted: Mapping[str, Any]) -> tuple[Compose, Compose]:
        steps = self._to_float()
        if "mean" in fitted:
            steps.append(v2.Normalize(mean=fitted["mean"].tolist(), std=fitted["std"].tolist()))
        transform = Compose(steps)
        return transform, transform  # augmentation is batched, on the device (see the class)

    @property
    def augmentation(self) -> BatchRandomAffine | None:
        """The warp of training batches (None without `augment`), from the fitted statistics:
        pixels moved in from outside are black, as in the raw image, at the value black has
        after this data's normalisation."""
        if not self.augment:
            return None
        black = -self.fitted["mean"] / self.fitted["std"] if "mean" in self.fitted else [0.0]
        return BatchRandomAffine(self.rotation, self.translate, fill=black)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augments training batches, already on the model's device; others pass unchanged."""
        if self.trainer is None or not self.trainer.training or (warp := self.augmentation) is None:
            return batch
        x, y = batch
        return warp(x), y


def channel_statistics(
    transform: Transform, images: np.ndarray, chunk_values: int = STATISTICS_CHUNK
) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of `transform(images)` (N, C, H, W).

    Summed (in float64) over chunks of about `chunk_values` pixel values at a time: the whole
    set never exists as floats, so 54,000 28x28 images cost about 20 MB of memory here instead of
    a float64 copy of 340 MB. Small chunks also let the allocator reuse the same memory.
    """
    chunk = max(1, chunk_values // max(1, math.prod(images.shape[1:])))
    count, total, squares = 0, torch.zeros(()), torch.zeros(())
    for start in range(0, len(images), chunk):
        pixels = transform(images[start : start + chunk])  # (n, C, H, W) float32
        count += pixels.numel() // pixels.shape[1]
        total = total + pixels.sum(dim=(0, 2, 3), dtype=torch.float64)
        squares = squares + pixels.square().sum(dim=(0, 2, 3), dtype=torch.float64)
    mean = total / count
    variance = (squares / count - mean.square()).clamp_min(0)
    return mean.float(), variance.sqrt().float()
