"""Transform classes: callable objects that turn stored samples into what the model needs.

The contract, for every transform here and in the DataModules: it takes one sample, or a batch
of samples stacked along a new leading axis, and returns the same kind. `dataset[i]` applies it
to one sample, as any `Dataset` does; `ArrayDataset.__getitems__` applies it once to a whole
batch, which is where the speed of the project's loaders comes from. Elementwise and broadcasting
operations (`ToTensor`, `Standardize`, torchvision's `ToDtype`, `Resize`, `Normalize`) satisfy it
as they are. Random augmentation of images draws per image for a whole batch in one call
(`BatchRandomAffine`), on the device the batch is on: `ImageDataModule` applies it to training
batches once Lightning has moved them there. A random transform without a batched version (one of
torchvision's, which draw one set of parameters per call) is wrapped in `PerSample`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


# A dataclass writes a transform's __init__ (its settings) and __repr__; __call__ is the transform.
@dataclass
class Compose:
    """Applies transforms in order: `Compose([ToTensor(), Standardize(mean, std)])(sample)`."""

    transforms: list[Callable[[Any], Any]]

    def __call__(self, sample: Any) -> Any:
        for transform in self.transforms:
            sample = transform(sample)
        return sample


@dataclass
class ToTensor:
    """numpy array (or number) -> tensor of an explicit dtype; float32 is what nn layers expect."""

    dtype: torch.dtype = torch.float32

    def __call__(self, sample: np.ndarray | float) -> Tensor:
        return torch.as_tensor(sample, dtype=self.dtype)


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
        std, mean = torch.std_mean(data, dim=0, correction=0)
        return cls(mean.float(), std.float())

    def __call__(self, sample: Tensor) -> Tensor:
        return (sample - self.mean) / self.std

    def inverse(self, sample: Tensor) -> Tensor:
        """Back to the original units."""
        return sample * self.std + self.mean

    def __repr__(self) -> str:
        return f"Standardize(features={self.mean.numel()})"


@dataclass
class PerSample:
    """Runs a random transform on each sample of a batch, each with its own random draw.

    torchvision's random transforms draw one set of parameters per call, so a whole batch
    would get the same rotation. A single sample (`sample_ndim` dims) passes straight through;
    a batch is transformed sample by sample, in order, so it consumes the random numbers
    exactly as reading the samples one by one would.
    """

    transform: Callable[[Tensor], Tensor]
    sample_ndim: int = 3

    def __call__(self, sample: Tensor) -> Tensor:
        if sample.ndim == self.sample_ndim:
            return self.transform(sample)
        return torch.stack([self.transform(item) for item in sample])


@dataclass
class BatchRandomAffine:
    """Random rotation and shift of every image of a batch (N, C, H, W), each with its own draw.

    What torchvision's `v2.RandomAffine(degrees, translate)` does to one image, done to the whole
    batch at once: one matrix per image, then one `affine_grid` + `grid_sample` call (bilinear),
    on the batch's device, so on a GPU the augmentation runs there with the model. As torchvision
    draws them: the angle uniform in [-degrees, degrees], the shift uniform in [-translate,
    translate] of the image's width and height, rounded to whole pixels (fractional shifts of
    small images blur them). A single image (C, H, W) is treated as a batch of one. The draws come
    from torch's random generator of the batch's device, so `torch.manual_seed` (or Lightning's
    `seed_everything`) repeats them.

    Pixels moved in from outside the image take `fill` per channel: pass the value a black pixel
    has after normalisation, and warping normalised images equals normalising warped ones.
    """

    degrees: float
    translate: float
    fill: Sequence[float] | Tensor = (0.0,)

    def __call__(self, images: Tensor) -> Tensor:
        if images.ndim == 3:
            return self(images[None])[0]
        n, _, height, width = images.shape
        draws = torch.rand(n, 3, device=images.device) * 2 - 1  # uniform in [-1, 1)
        size = torch.tensor([width, height], device=images.device)
        shifts = (draws[:, 1:] * self.translate * size).round()
        return self.warp(images, draws[:, 0] * self.degrees, shifts)

    def warp(self, images: Tensor, angles: Tensor, shifts: Tensor) -> Tensor:
        """`images` rotated about their centres by `angles` (N,) in degrees, counter-clockwise as
        torchvision's `affine` rotates, then shifted by `shifts` (N, 2) pixels (right, down)."""
        height, width = images.shape[-2:]
        cos, sin = torch.deg2rad(angles).cos(), torch.deg2rad(angles).sin()
        # affine_grid wants, per image, where each output pixel is read from in the input, in
        # coordinates running from -1 to 1 across the image: the inverse rotation, rescaled by
        # the aspect ratio off the diagonal (non-square images rotate without shearing), applied
        # after undoing the shift (a fraction t of a side is 2t in those units).
        matrix = [cos, sin * height / width, -sin * width / height, cos]  # row by row
        inverse = torch.stack(matrix, dim=1).reshape(-1, 2, 2)  # (N, 2, 2)
        shift = shifts * 2 / torch.tensor([width, height], device=shifts.device)
        offset = -(inverse @ shift.to(inverse.dtype)[:, :, None])  # (N, 2, 1)
        theta = torch.cat([inverse, offset], dim=2).to(images.dtype)  # (N, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        fill = torch.as_tensor(self.fill).to(images).reshape(-1, 1, 1)
        # grid_sample pads with zeros; shifting by `fill` first makes the padding `fill` instead.
        warped = F.grid_sample(images - fill, grid, mode="bilinear", align_corners=False)
        return warped + fill
