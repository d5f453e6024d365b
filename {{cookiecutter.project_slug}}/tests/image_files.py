"""Small folders of real image files, as a user's own data would come: one folder per class."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = ("red", "green", "blue")  # class i: channel i is bright


def write_image_folder(
    root: Path,
    per_class: int = 12,
    classes: Sequence[str] = COLOURS,
    sizes: Sequence[tuple[int, int]] = ((20, 24), (24, 20), (16, 16)),
    seed: int = 0,
) -> Path:
    """root/<class>/<i>.png (and .jpg for every third image): noisy images whose bright colour
    channel is the class; their sizes cycle through `sizes` (H, W), as real photos differ."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = sizes[i % len(sizes)]
            pixels = rng.integers(0, 80, size=(height, width, 3)).astype(np.uint8)
            pixels[..., label % 3] += 160
            suffix = "jpg" if i % 3 == 2 else "png"
            Image.fromarray(pixels).save(root / name / f"{i:03d}.{suffix}")
    return root
