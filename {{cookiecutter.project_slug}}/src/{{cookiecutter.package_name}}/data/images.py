"""In-memory image classification: uint8 images (N, C, H, W) through torchvision transforms."""

from collections.abc import Sequence

import numpy as np
import torch
from torchvision.transforms import v2

from .datamodule import ArrayDataModule
from .dataset import Transform
from .transforms import Compose, PerSample, ToTensor


class ImageDataModule(ArrayDataModule):
    """Classification of images held in memory as uint8 arrays (N, C, H, W).

    Every split: uint8 -> float in [0, 1] (`v2.ToDtype`), `v2.Resize` to `image_size` when it
    is given, and (`standardize`) `v2.Normalize` with per-channel statistics of the training
    split. Training only, when `augment` is on: a random affine warp (rotation, shift) drawn per
    image (`PerSample`). Subclasses implement `load()`.
    """

    task = "classification"

    def __init__(
        self,
        image_size: Sequence[int] | None = None,
        augment: bool = True,
        rotation: float = 10.0,
        translate: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.image_size = list(image_size) if image_size else None  # [H, W]
        self.augment = augment
        self.rotation = rotation
        self.translate = translate

    def transforms(self, train_features: np.ndarray) -> tuple[Compose, Compose]:
        steps: list[Transform] = [ToTensor(torch.uint8), v2.ToDtype(torch.float32, scale=True)]
        if self.image_size:
            steps.append(v2.Resize(self.image_size, antialias=True))
        normalize: list[Transform] = []
        if self.standardize:  # per-channel statistics of the training images only
            pixels = Compose(steps)(train_features).double()  # (N, C, H, W)
            mean = pixels.mean(dim=(0, 2, 3))
            std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-6)
            normalize.append(v2.Normalize(mean=mean.tolist(), std=std.tolist()))
        transform = Compose([*steps, *normalize])
        if not self.augment:
            return transform, transform
        warp = v2.RandomAffine(
            degrees=self.rotation,
            translate=(self.translate,) * 2,
            # Bilinear: on 8x8 images, nearest-pixel sampling undoes most small rotations.
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        # The warp acts on [0, 1] pixels, before normalisation, as it would on the raw image.
        return transform, Compose([*steps, PerSample(warp), *normalize])
