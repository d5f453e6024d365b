"""In-memory image classification: uint8 images (N, C, H, W) through torchvision transforms."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
    split, or with the given `mean` and `std` (e.g. ImageNet's, for pretrained weights).
    Training only, when `augment` is on: a random affine warp (rotation, shift) drawn per image
    (`PerSample`). Subclasses implement `load()`; new image files are read at the training
    images' size and channels (`read_inputs()`).
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
        self.given_statistics = None if mean is None else (list(mean), list(std or []))

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
            mean, std = self.given_statistics
            return {"mean": torch.tensor(mean), "std": torch.tensor(std)}
        pixels = Compose(self._to_float())(train_features).double()  # (N, C, H, W)
        std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-6)
        return {"mean": pixels.mean(dim=(0, 2, 3)).float(), "std": std.float()}

    def transforms(self, fitted: Mapping[str, Any]) -> tuple[Compose, Compose]:
        steps = self._to_float()
        normalize: list[Transform] = []
        if "mean" in fitted:
            normalize.append(v2.Normalize(mean=fitted["mean"].tolist(), std=fitted["std"].tolist()))
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

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """Every image file under `path` (or the one file), read at the training images' size
        and channels: identifiers are the paths relative to `path`."""
        from .folder import find_images, read_images  # PIL, only when files are read

        channels, height, width = self.sample_shape
        files = find_images(path, key="input")
        images = read_images(files, path, channels, (height, width), key="input")
        return [
            str(file.relative_to(path)) if file != path else file.name for file in files
        ], images
