"""In-memory image classification: uint8 images (N, C, H, W) through torchvision transforms."""

from collections.abc import Sequence

import numpy as np
import torch
from torchvision.transforms import v2

from ..errors import ConfigError
from .datamodule import ArrayDataModule
from .dataset import Transform
from .transforms import Compose, PerSample, ToTensor


class ImageDataModule(ArrayDataModule):
    """Classification of small images held in memory as uint8 arrays (N, C, H, W).

    Every split: uint8 -> float in [0, 1] (`v2.ToDtype`), `v2.Resize` when `input_shape` (what
    the model sees) differs from the stored size,
    `v2.Normalize` with per-channel statistics of the training split. Training only, when
    `augment` is on: a random affine warp (rotation, shift) drawn per image (`PerSample`).
    Subclasses implement `load_arrays()`.
    """

    def __init__(
        self,
        stored_shape: Sequence[int],
        input_shape: Sequence[int],
        num_features: int,
        num_outputs: int,
        task: str = "classification",
        augment: bool = True,
        rotation: float = 10.0,
        translate: float = 0.1,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        split_seed: int = 0,
    ) -> None:
        super().__init__(
            task=task,
            num_features=num_features,
            num_outputs=num_outputs,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            standardize=True,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            split_seed=split_seed,
            input_shape=input_shape,
        )
        if len(self.input_shape) != 3 or self.input_shape[0] != stored_shape[0]:
            raise ConfigError(
                f"data.input_shape={list(self.input_shape)} must be [C, H, W] with"
                f" C={stored_shape[0]}, the images' channels"
            )
        self.stored_shape = tuple(stored_shape)  # load_arrays() gives this; Resize gives input
        self.augment = augment
        self.rotation = rotation
        self.translate = translate

    def _base_steps(self) -> list[Transform]:
        steps: list[Transform] = [ToTensor(torch.uint8), v2.ToDtype(torch.float32, scale=True)]
        if self.input_shape != self.stored_shape:
            steps.append(v2.Resize(list(self.input_shape[1:]), antialias=True))
        return steps

    def _normalize(self, train_features: np.ndarray) -> v2.Normalize:
        pixels = Compose(self._base_steps())(train_features).double()  # (N, C, H, W)
        mean = pixels.mean(dim=(0, 2, 3))
        std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-6)
        return v2.Normalize(mean=mean.tolist(), std=std.tolist())

    def _feature_transform(self, train_features: np.ndarray) -> Compose:
        self.normalize = self._normalize(train_features)  # training statistics only
        return Compose([*self._base_steps(), self.normalize])

    def _train_transform(self, train_features: np.ndarray) -> Transform:
        if not self.augment:
            return self.feature_transform
        warp = v2.RandomAffine(
            degrees=self.rotation,
            translate=(self.translate,) * 2,
            # Bilinear: on 8x8 images, nearest-pixel sampling undoes most small rotations.
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        return Compose([*self._base_steps(), PerSample(warp), self.normalize])
