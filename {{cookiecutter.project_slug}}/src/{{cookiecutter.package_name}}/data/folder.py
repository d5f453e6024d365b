"""Your own images: a folder with one sub-folder per class, as every image tool lays them out.

    data/pets/cat/001.png, data/pets/cat/002.jpg, data/pets/dog/001.png, ...

`setup()` lists the files and nothing more: each batch's images are decoded when it is read, in
the DataLoader's worker processes, so memory and the time to the first step do not grow with the
folder. A small folder (`in_memory`; by default up to IN_MEMORY_UP_TO images) is decoded once
instead, at `setup()`, into one uint8 array, and its epochs then cost no decoding.

`ReadImage` turns one file into a uint8 tensor (C, H, W) of the training size: EXIF orientation
applied, any PIL mode converted to the configured channels, then the training augmentation
(random resized crop, flip) or the evaluation geometry (resize, centre crop). `ImageFiles` is
an `ArrayDataset` whose features are the files' paths: `__getitems__` reads a batch's files and
runs the batched transform (to float, normalised) once on the stacked images.
"""

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import DataLoader
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..errors import ConfigError, DataError
from .dataset import ArrayDataset
from .images import ImageDataModule
from .transforms import Compose, PerSample

log = logging.getLogger(__name__)

MODES = {1: "L", 3: "RGB"}  # channels -> the PIL mode every image is converted to
BAD_IMAGES = ("stop", "skip")  # what a file that cannot be read does to the run

IN_MEMORY_UP_TO = 1000  # images: a folder this small is decoded once, at setup()
MAX_WORKERS = 8  # default worker processes, at most: more rarely pay on one machine's disk


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
        crop = v2.RandomResizedCrop(self.size, scale=tuple(crop_scale), antialias=True)
        fit = [v2.Resize(max(self.size), antialias=True), v2.CenterCrop(self.size)]
        # On the PIL image: Pillow's SIMD resampling.
        self.geometry = v2.Compose([crop, v2.RandomHorizontalFlip()] if augment else fit)

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
        self, files: np.ndarray, targets: np.ndarray, read: ReadImage, bad_images: str = "stop"
    ) -> None:
        super().__init__(files, targets)
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
                if self.bad_images == "stop":
                    raise DataError(
                        f"{path} cannot be read as an image ({reason(err)}); replace or delete"
                        " it, or set data.bad_images=skip to train without the files that cannot"
                        " be read"
                    ) from None
                self.skipped += 1
                log.warning(
                    "Skipped %s (%s): data.bad_images=skip; %d file(s) skipped by this process"
                    " so far",
                    path,
                    reason(err),
                    self.skipped,
                )
                continue
            kept.append(index)
        empty = torch.empty(0, self.read.channels, *self.read.size, dtype=torch.uint8)
        x = torch.stack(images) if images else empty
        return self._apply(x, self.targets[np.asarray(kept, dtype=np.int64)])


class ImageFolderDataModule(ImageDataModule):
    """Classification of the images in `path/<class>/`; the class is the folder's name.

    Every image is converted to `channels` (1: grey, 3: RGB) and cut to `image_size` ([H, W]):
    in training a random crop of `crop_scale` of its area, flipped half the time (`augment`);
    otherwise its short side resized to cover that size, then the centre cut out. `val_path` and
    `test_path` are folders of the same layout holding those splits; the splits not given are
    drawn from `path`. Normalisation uses the mean and std of the training images (streamed:
    `statistics_images` of them drawn with `split_seed`), or the given `mean` and `std`.
    `num_workers` and `pin_memory` left at None become one worker per usable core (up to
    MAX_WORKERS) and pinning when CUDA is there; `persistent_workers` keeps them from one epoch
    to the next.
    """

    def __init__(
        self,
        path: str,
        val_path: str | None = None,
        test_path: str | None = None,
        channels: int = 3,
        image_size: Sequence[int] | None = (64, 64),
        crop_scale: Sequence[float] = (0.25, 1.0),
        in_memory: bool | None = None,
        statistics_images: int = 256,
        bad_images: str = "stop",
        max_image_pixels: int | None = 89_478_485,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        prefetch_factor: int = 2,
        persistent_workers: bool = True,
        **kwargs: Any,
    ) -> None:
        if channels not in MODES:
            raise ConfigError(f"data.channels={channels}: use 1 (grey) or 3 (RGB)")
        if image_size is not None and len(image_size) != 2:
            raise ConfigError(f"data.image_size={image_size}: give [H, W], e.g. [64, 64]")
        if bad_images not in BAD_IMAGES:
            raise ConfigError(f"data.bad_images={bad_images}: use one of {', '.join(BAD_IMAGES)}")
        if num_workers is None:
            num_workers = min(len(os.sched_getaffinity(0)), MAX_WORKERS)
        if pin_memory is None:
            pin_memory = torch.cuda.is_available()
        super().__init__(num_workers=num_workers, pin_memory=pin_memory, **kwargs)
        self.path = Path(path)
        self.folders = {"val": val_path, "test": test_path}
        self.channels = channels
        self.size = [int(n) for n in image_size] if image_size else None  # None: the first's
        self.crop_scale = list(crop_scale)
        self.in_memory = in_memory
        self.statistics_images = statistics_images
        self.bad_images = bad_images
        self.max_image_pixels = max_image_pixels
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers

    def reader(self, augment: bool) -> ReadImage:
        size = self.size or list(self.sample_shape[1:])  # a checkpoint's, before setup()
        return ReadImage(self.channels, size, augment, self.crop_scale, self.max_image_pixels)

    def load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The files and their classes by split; decoded here only when held in memory."""
        files = {"train": list_folder("data.path", self.path)}
        if len(classes := set(files["train"][1].tolist())) < 2:
            raise DataError(
                f"data.path={self.path} has one class folder, {classes.pop()!r}; a classifier needs"
                f" two or more: add a folder of images per class ({self.path}/<class>/<image>)"
            )
        for split, folder in self.folders.items():
            if folder:
                files[split] = list_folder(f"data.{split}_path", Path(folder))
        if self.size is None:  # the first image's size, as it will be read (EXIF turned)
            with Image.open(files["train"][0][0]) as first:
                self.size = list(ImageOps.exif_transpose(first).size[::-1])
        total = sum(len(paths) for paths, _ in files.values())
        self.in_memory = total <= IN_MEMORY_UP_TO if self.in_memory is None else self.in_memory
        if not self.in_memory:
            return files
        return {
            split: read_all(ImageFiles(paths, labels, self.reader(False), self.bad_images))
            for split, (paths, labels) in files.items()
        }

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        super().setup(stage)
        self.sample_shape = (self.channels, *(self.size or self.sample_shape[1:]))
        self.sample_dtype = np.dtype("uint8")
        if self.in_memory:
            self.num_workers = 0  # batches come from memory: nothing for workers to decode
        else:  # the splits hold paths: read them as images
            for name, split in self.splits.items():
                read = self.reader(augment=name == "train" and self.augment)
                self.splits[name] = ImageFiles(split.features, split.targets, read, self.bad_images)
            self._build_transforms()

    def fit(self, train_features: np.ndarray) -> dict[str, Any]:
        """Statistics of a seeded sample of the training files (or of the decoded images)."""
        if self.in_memory or not self.standardize or self.given_statistics is not None:
            return super().fit(train_features)
        rng = np.random.default_rng(self.split_seed)
        count = min(self.statistics_images, len(train_features))
        sample = np.sort(rng.choice(len(train_features), count, replace=False))
        paths = train_features[sample]
        images, _ = read_all(ImageFiles(paths, sample, self.reader(False), self.bad_images))
        return super().fit(images)

    def transforms(self, fitted: Any) -> tuple[Compose, Compose]:
        """uint8 images -> normalised floats; in memory, training images are also cropped and
        flipped here (files are as they are read, `ReadImage`)."""
        transform, _ = super().transforms(fitted)
        if not (self.in_memory and self.augment):
            return transform, transform
        augment = PerSample(self.reader(augment=True).geometry)  # the crop and flip of files
        first, *rest = transform.transforms
        return transform, Compose([first, augment, *rest])

    @property
    def augmentation(self) -> None:
        """None: the images are cropped and flipped as they are read, not as batches."""
        return None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.sample_shape)  # the transforms keep (C, H, W)

    def read_inputs(self, path: Path) -> tuple[list[str], np.ndarray]:
        """Every image file under `path` (or the one file): identifiers are the paths relative
        to `path`; the files are read as the loader asks for them."""
        files = [path] if path.is_file() else find_images(path, f"input={path}")
        ids = [str(file.relative_to(path)) if file != path else file.name for file in files]
        return ids, np.array([str(file) for file in files])

    def read_image(self, file: BinaryIO) -> np.ndarray:
        """One image file's bytes as a stored sample (1, C, H, W) uint8, read as `read_inputs()`
        files are (the evaluation geometry); a DataError says why it is not an image."""
        try:
            return self.reader(augment=False)(file)[None].numpy()
        except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ... per format
            raise DataError(reason(err)) from None

    def eval_loader(self, dataset: ArrayDataset) -> DataLoader:
        if dataset.features.dtype != np.uint8:  # paths: read every file (predictions match rows)
            dataset = ImageFiles(dataset.features, dataset.targets, self.reader(augment=False))
        return super().eval_loader(dataset)


def read_all(files: ImageFiles) -> tuple[np.ndarray, np.ndarray]:
    """Every image of `files` decoded, in the calling process: (uint8 images, their targets)."""
    images, targets = files.__getitems__(range(len(files)))
    return images.numpy(), targets


def list_folder(key: str, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image paths, class names) of `root/<class>/<image>`, sorted by class then path."""
    if not root.is_dir():
        raise DataError(f"{key}={root} is not a folder; point it at your images")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{key}={root} holds no images in class folders: put each class's images in a"
            f" folder of its own, {root}/<class>/<image> ({', '.join(IMG_EXTENSIONS)})"
        )
    paths, labels = [], []
    for name in classes:
        files = find_images(root / name, f"{key}={root}: the class folder {name!r}")
        paths += [str(file) for file in files]
        labels += [name] * len(files)
    return np.array(paths), np.array(labels)


def find_images(folder: Path, what: str) -> list[Path]:
    """The image files under `folder`, sorted, following symlinks; a link that leads back to a
    folder already walked (a symlink loop) is refused rather than walked forever."""
    if not folder.is_dir():
        raise DataError(f"{what} does not exist; give a folder of images, or one image")
    seen: dict[tuple[int, int], str] = {}
    files = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        status = os.stat(top)
        if (status.st_dev, status.st_ino) in seen:
            raise DataError(
                f"{what}: {top} is {seen[(status.st_dev, status.st_ino)]} again (a symlink"
                " loop, or two links to one folder); remove the link"
            )
        seen[(status.st_dev, status.st_ino)] = top
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [
            Path(top, name)
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in IMG_EXTENSIONS
        ]
    if not files:
        raise DataError(
            f"{what} holds no images ({', '.join(IMG_EXTENSIONS)}); put its images there, or"
            " delete the folder"
        )
    return sorted(files)
