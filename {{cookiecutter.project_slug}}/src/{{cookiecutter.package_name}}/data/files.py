"""Image files read when a batch asks for them: decoded in the DataLoader's worker processes.

`ReadImage` turns one file into a uint8 tensor (C, H, W) of the training size: EXIF orientation
applied, any PIL mode converted to the configured channels, then the training augmentation
(random resized crop, flip) or the evaluation geometry (resize, centre crop). `ImageFiles` is
an `ArrayDataset` whose features are the files' paths: `__getitems__` reads a batch's files and
runs the batched transform (to float, normalised) once on the stacked images.
"""

import logging
import math
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..errors import DataError
from .dataset import ArrayDataset

log = logging.getLogger(__name__)

MODES = {1: "L", 3: "RGB"}  # channels -> the PIL mode every image is converted to
BAD_IMAGES = ("stop", "skip")  # what a file that cannot be read does to the run


class ReadImage:
    """Path -> uint8 tensor (channels, *size), as the model is trained (`augment`: a random
    crop of `crop_scale` of the area, resized to `size`, flipped half the time) or evaluated
    (the short side resized to cover `size`, then the centre cut out)."""

    def __init__(
        self,
        channels: int,
        size: Sequence[int],
        augment: bool = False,
        crop_scale: Sequence[float] = (0.25, 1.0),
        max_pixels: int | None = None,
    ) -> None:
        self.channels = channels
        self.mode = MODES[channels]
        self.size = [int(size[0]), int(size[1])]
        self.max_pixels = max_pixels
        # JPEGs decode at 1/2, 1/4 or 1/8 scale (PIL's draft) when that still leaves this many
        # pixels on the short side: enough for the smallest crop to be resized down, not up.
        self.draft = math.ceil(max(self.size) / math.sqrt(crop_scale[0] if augment else 1.0))
        if augment:
            steps: list[Any] = [
                v2.RandomResizedCrop(self.size, scale=tuple(crop_scale), antialias=True),
                v2.RandomHorizontalFlip(),
            ]
        else:
            steps = [v2.Resize(max(self.size), antialias=True), v2.CenterCrop(self.size)]
        self.geometry = v2.Compose(steps)  # on the PIL image: Pillow's SIMD resampling

    def __call__(self, path: str | BinaryIO) -> Tensor:
        # PIL refuses (DecompressionBombError) what is more than twice its limit; this refuses
        # what is over it: a giant image would stall a worker and fill its memory.
        Image.MAX_IMAGE_PIXELS = self.max_pixels
        with Image.open(path) as image:
            if self.max_pixels and image.width * image.height > self.max_pixels:
                raise ValueError(
                    f"{image.width}x{image.height} pixels, over the limit of {self.max_pixels:,}"
                    " (data.max_image_pixels; PIL's decompression-bomb guard)"
                )
            image.draft(self.mode, (self.draft, self.draft))
            pixels = self.geometry(self.convert(ImageOps.exif_transpose(image)))
        return F.pil_to_tensor(pixels)

    def convert(self, image: Image.Image) -> Image.Image:
        """Any mode to `self.mode`: 16- and 32-bit greys scaled to 8 bits (PIL's own convert
        clips them at 255), transparency dropped, palettes, CMYK and YCbCr converted."""
        if image.mode.startswith("I"):  # I;16, I;16B, I: integer greys
            values = np.asarray(image).astype(np.uint32)
            bits = 16 if values.max(initial=0) > 255 else 8
            image = Image.fromarray((values >> (bits - 8)).astype(np.uint8))
        elif image.mode == "F":  # floating-point greys, taken to be in [0, 1]
            values = np.clip(np.asarray(image) * 255, 0, 255).astype(np.uint8)
            image = Image.fromarray(values)
        return image if image.mode == self.mode else image.convert(self.mode)


def reason(error: BaseException) -> str:
    """The first line of PIL's complaint about a file (or the error's name)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class ImageFiles(ArrayDataset):
    """Samples (image file, class): `read` decodes each file, `transform` runs on the batch.

    A file that cannot be read stops the run with its name (`bad_images="stop"`), or is left out
    of its batch and counted (`"skip"`: the batch is one sample shorter; each process that meets
    one logs the file and how many it has skipped).
    """

    def __init__(
        self,
        files: np.ndarray,
        targets: np.ndarray,
        read: ReadImage,
        bad_images: str = "stop",
        transform: Any = None,
        target_transform: Any = None,
    ) -> None:
        super().__init__(files, targets, transform, target_transform)
        self.read = read
        self.bad_images = bad_images
        self.skipped = 0  # in this process: each worker counts its own

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x, y = self.__getitems__([index])
        if not len(y):  # skipped: one sample asked for by index has no stand-in
            raise DataError(f"{self.features[index]} cannot be read as an image (skipped)")
        return x[0], y[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Any, Any]:
        images, kept = [], []
        for index in np.asarray(indices).tolist():
            path = str(self.features[index])
            try:
                images.append(self.read(path))
            except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ... per format
                self.refuse(path, err)
                continue
            kept.append(index)
        empty = torch.empty(0, self.read.channels, *self.read.size, dtype=torch.uint8)
        x = torch.stack(images) if images else empty
        return self._apply(x, self.targets[np.asarray(kept, dtype=np.int64)])

    def refuse(self, path: str, err: BaseException) -> None:
        if self.bad_images == "stop":
            raise DataError(
                f"{path} cannot be read as an image ({reason(err)}); replace or delete it, or"
                " set data.bad_images=skip to train without the files that cannot be read"
            ) from None
        self.skipped += 1
        log.warning(
            "Skipped %s (%s): data.bad_images=skip; %d file(s) skipped by this process so far",
            path,
            reason(err),
            self.skipped,
        )
