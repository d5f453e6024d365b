"""Handwritten digits: 1,797 real 8x8 images, shipped inside the package (works offline).

The images of scikit-learn's `load_digits`, from the UCI Optical Recognition of Handwritten
Digits data set (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), stored in digits.npz next to this file.
"""

from pathlib import Path

import numpy as np

from .datamodule import Arrays
from .images import ImageDataModule

DIGITS_FILE = Path(__file__).with_name("digits.npz")


class DigitsDataModule(ImageDataModule):
    """Ten classes of 1x8x8 grey images with 17 intensity levels (0-16), stored as uint8."""

    def load(self) -> dict[str, Arrays]:
        with np.load(DIGITS_FILE) as arrays:
            # 0-16 -> 0-255, so ToDtype(scale=True) maps every dataset's pixels to [0, 1].
            images = np.rint(arrays["images"] * (255 / 16)).astype(np.uint8)[:, None]
            return {"train": (images, arrays["labels"].astype(np.int64))}
