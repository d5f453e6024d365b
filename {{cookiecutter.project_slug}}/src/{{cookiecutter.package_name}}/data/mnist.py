"""torchvision's MNIST: 70,000 28x28 digits, downloaded once into `data_dir`."""

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .images import ImageDataModule


class MNISTDataModule(ImageDataModule):
    """MNIST's own 10,000 test images are the test split; validation comes out of its 60,000.

    Reads `<data_dir>/MNIST/raw/*-ubyte` with torchvision's reader, downloading them first
    when they are missing and `download` is true.
    """

    def __init__(self, data_dir: str, download: bool = True, **kwargs) -> None:
        super().__init__(stored_shape=(1, 28, 28), **kwargs)
        self.data_dir = Path(data_dir)
        self.download = download
        self.num_official_train = 0

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        from torchvision.datasets import MNIST

        try:
            parts = [MNIST(self.data_dir, train=t, download=self.download) for t in (True, False)]
        except (RuntimeError, OSError) as err:  # missing files, no network
            raise ConfigError(
                f"MNIST is not in data.data_dir={self.data_dir} and could not be downloaded"
                f" ({err}); go online once, or put the *-ubyte files in"
                f" {self.data_dir / 'MNIST' / 'raw'}"
            ) from None
        self.num_official_train = len(parts[0])
        images = np.concatenate([p.data.numpy() for p in parts])[:, None]  # (N, 1, 28, 28)
        labels = np.concatenate([p.targets.numpy() for p in parts])
        return images, labels.astype(np.int64)

    def _split(self, num_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_train = self.num_official_train
        order = np.random.default_rng(self.split_seed).permutation(n_train)
        num_val = round(n_train * self.val_fraction)
        if n_train - num_val < 1:
            raise ConfigError(f"no training samples left out of {n_train}; lower val_fraction")
        return order[num_val:], order[:num_val], np.arange(n_train, num_samples)
