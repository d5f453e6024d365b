"""torchvision's MNIST: 70,000 28x28 digits, downloaded once into `data_dir`."""

from pathlib import Path

import numpy as np

from ..errors import DataError
from .datamodule import Arrays
from .images import ImageDataModule

FILE_PREFIXES = {"train": "train", "test": "t10k"}  # MNIST's own names for its two parts


class MNISTDataModule(ImageDataModule):
    """MNIST's own 10,000 test images are the test split; validation comes out of its 60,000.

    `prepare_data()` downloads `<data_dir>/MNIST/raw/*-ubyte` when they are missing and
    `download` is true (Lightning runs it in one process per machine); `setup()` reads them
    with torchvision's reader.
    """

    def __init__(self, data_dir: str, download: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.download = download

    def prepare_data(self) -> None:
        if self.download:
            self._read(download=True)

    def load(self) -> dict[str, Arrays]:
        return self._read(download=False)

    def _read(self, download: bool) -> dict[str, Arrays]:
        from torchvision.datasets import MNIST

        raw = self.data_dir / "MNIST" / "raw"
        try:
            parts = {
                split: MNIST(self.data_dir, train=split == "train", download=download)
                for split in ("train", "test")
            }
        except (RuntimeError, OSError) as err:  # missing files, no network
            raise DataError(
                f"MNIST is not in {self.data_dir} and could not be downloaded ({err}); go"
                f" online once, or put the *-ubyte files in {raw}"
            ) from None
        except (AssertionError, ValueError) as err:  # torchvision's reader checks the headers
            raise DataError(
                f"the MNIST files in {raw} are damaged ({type(err).__name__}: {err}); delete them"
                " and download again (data.download=true)"
            ) from None
        return {
            split: (part.data.numpy()[:, None], part.targets.numpy().astype(np.int64))
            for split, part in parts.items()
        }


def write_mnist(data_dir: Path, split: str, images: np.ndarray, labels: np.ndarray) -> Path:
    """Writes uint8 `images` (N, 28, 28) and `labels` (N,) as MNIST's IDX files for `split`
    ("train" or "test") under `<data_dir>/MNIST/raw/`, where `data=mnist` reads them; returns
    that folder. Any images of that size can be trained on this way (the tests write theirs)."""
    raw = Path(data_dir) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    prefix = FILE_PREFIXES[split]
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        # IDX: two zero bytes, the type code (0x08: uint8), the number of dimensions, each
        # dimension as a big-endian int32, then the values in C order.
        header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
        (raw / f"{prefix}-{kind}-ubyte").write_bytes(header + array.astype(np.uint8).tobytes())
    return raw
