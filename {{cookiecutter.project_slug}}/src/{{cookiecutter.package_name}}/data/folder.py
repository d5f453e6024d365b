"""Your own images: a folder with one sub-folder per class, as every image tool lays them out.

    data/pets/cat/001.png, data/pets/cat/002.jpg, data/pets/dog/001.png, ...

torchvision's `ImageFolder` layout, listed with its own `make_dataset`. The images are decoded
once, at `setup()`, into one uint8 array (N, C, H, W) of a common size, so they go through the
same in-memory splits, transforms and batched loaders as the digits: fast for the thousands of
small images a folder like this usually holds (a set that does not fit in memory needs a Dataset
that reads files per batch instead).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset
from torchvision.transforms.v2 import functional as F

from ..errors import DataError
from .datamodule import Arrays
from .images import ImageDataModule

MODES = {1: "L", 3: "RGB"}  # channels -> the PIL mode every image is converted to
SHOWN = 5  # unreadable files named in the error, at most


class ImageFolderDataModule(ImageDataModule):
    """Classification of the images in `path/<class>/`; the class is the folder's name.

    Every image is converted to `channels` (1: grey, 3: RGB) and resized to `image_size`
    ([H, W]) as it is decoded; `image_size: null` keeps the images' own size, which must then
    be the same for all. `val_path` and `test_path` are folders of the same layout holding
    those splits; the splits not given are drawn from `path` (`val_fraction`,
    `test_fraction`). The other arguments are `ImageDataModule`'s (augmentation, statistics).
    """

    def __init__(
        self,
        path: str,
        val_path: str | None = None,
        test_path: str | None = None,
        channels: int = 3,
        image_size: Sequence[int] | None = (64, 64),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)  # no image_size there: images are decoded at that size
        if channels not in MODES:
            raise ValueError(f"channels={channels}: use 1 (grey) or 3 (RGB)")
        self.path = Path(path)
        self.folders = {"val": val_path, "test": test_path}
        self.channels = channels
        self.decode_size = (int(image_size[0]), int(image_size[1])) if image_size else None

    def load(self) -> dict[str, Arrays]:
        arrays = {"train": self._read_folder("data.path", self.path)}
        if len(set(arrays["train"][1].tolist())) < 2:
            [name] = set(arrays["train"][1].tolist())
            raise DataError(
                f"data.path={self.path} has one class folder, {name!r}; a classifier needs two or"
                f" more: add a folder of images per class ({self.path}/<class>/<image>)"
            )
        for split, folder in self.folders.items():
            if folder:
                arrays[split] = self._read_folder(f"data.{split}_path", Path(folder))
        return arrays

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """Every image file under `path` (or the one file), read at the training images' size
        and channels: identifiers are the paths relative to `path`."""
        channels, height, width = self.sample_shape
        files = find_images(path, key="input")
        images = read_images(files, path, channels, (height, width), key="input")
        return [
            str(file.relative_to(path)) if file != path else file.name for file in files
        ], images

    def read_image(self, file: BinaryIO) -> np.ndarray:
        """One image file's bytes as a stored sample (1, C, H, W) at the training images' size
        and channels, as `read_inputs()` reads each file."""
        channels, height, width = self.sample_shape
        return decode_image(file, channels, (height, width))[None].numpy()

    def _read_folder(self, key: str, root: Path) -> Arrays:
        """(images, class names) of `root/<class>/<image>`."""
        if not root.is_dir():
            raise DataError(f"{key}={root} is not a folder; point it at your images")
        classes = sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        index = {name: i for i, name in enumerate(classes)}
        found = make_dataset(str(root), index, IMG_EXTENSIONS, allow_empty=True) if index else []
        if not found:
            raise DataError(
                f"{key}={root} holds no images in class folders: put each class's images in a"
                f" folder of its own, {root}/<class>/<image> ({', '.join(IMG_EXTENSIONS)})"
            )
        images = read_images(
            [Path(file) for file, _ in found], root, self.channels, self.decode_size, key
        )
        return images, np.array([classes[label] for _, label in found])


def find_images(path: Path, key: str) -> list[Path]:
    """The image files under `path`, sorted (or `path` itself, when it is one)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{key}={path} does not exist; give a folder of images, or one image")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in IMG_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise DataError(f"{key}={path} holds no image files ({', '.join(IMG_EXTENSIONS)})")
    return files


def read_images(
    files: Sequence[Path], root: Path, channels: int, size: tuple[int, int] | None, key: str
) -> np.ndarray:
    """The files decoded into one uint8 array (N, channels, H, W), each resized to `size`
    (antialiased bilinear). Every file that cannot be decoded is named in one error."""
    images, unreadable = [], []
    for file in files:
        try:
            images.append(decode_image(file, channels, size))
        except DataError as err:
            unreadable.append(f"{file.relative_to(root) if file != root else file} ({err})")
    if unreadable:
        more = f" and {len(unreadable) - SHOWN} more" if len(unreadable) > SHOWN else ""
        raise DataError(
            f"{key}={root}: {len(unreadable)} of {len(files)} files cannot be read as images:"
            f" {'; '.join(unreadable[:SHOWN])}{more}; replace or delete them"
        )
    sizes = {tuple(image.shape[1:]) for image in images}
    if len(sizes) > 1:
        first, other = sorted(sizes)[:2]
        raise DataError(
            f"{key}={root}: the images differ in size ({first[0]}x{first[1]}, {other[0]}x"
            f"{other[1]}, ...); set data.image_size=[H,W] to resize them all as they are read"
        )
    return torch.stack(images).numpy()


def decode_image(file: Path | BinaryIO, channels: int, size: tuple[int, int] | None) -> Tensor:
    """One image file (a path, or its bytes as a file object) as uint8 (channels, H, W),
    resized to `size`; a DataError says why it is not an image."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            pixels = F.pil_to_tensor(image.convert(MODES[channels]))
    except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ... per format
        raise DataError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    if size is not None and tuple(pixels.shape[1:]) != size:
        pixels = F.resize(pixels, list(size), antialias=True)
    return pixels
