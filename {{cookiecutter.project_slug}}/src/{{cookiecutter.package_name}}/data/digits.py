"""scikit-learn's handwritten digits: 1,797 real 8x8 images that ship with it (works offline)."""

import numpy as np

from .images import ImageDataModule


class DigitsDataModule(ImageDataModule):
    """Ten classes of 1x8x8 grey images with 17 intensity levels (0-16), stored as uint8."""

    def __init__(self, **kwargs) -> None:
        super().__init__(stored_shape=(1, 8, 8), **kwargs)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits  # imported here: only this dataset needs it

        digits = load_digits()
        # 0-16 -> 0-255, so ToDtype(scale=True) maps every dataset's pixels to [0, 1].
        images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]
        return images, digits.target.astype(np.int64)
