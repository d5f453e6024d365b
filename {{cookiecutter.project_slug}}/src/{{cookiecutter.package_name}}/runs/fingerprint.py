"""Which data a run saw: a fingerprint of the files its data config names, cheap at every start.

Every file under each path of the data config (`path`, `val_path`, `data_dir`, ...) is listed
with its size and modification time, one stat per file (20,000 images take a few tens of
milliseconds), and a seeded sample of them is hashed in a few fixed-size blocks each: the cost
does not grow with the files' sizes, and a change of any file's size or time shows. Generated
or bundled data (no path in the config) has no fingerprint: its config decides it.
"""

import hashlib
import os
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SAMPLE_FILES = 16  # files whose contents are hashed
SAMPLE_BLOCKS = 4  # blocks hashed per sampled file: its start and seeded offsets after it
BLOCK = 64 * 1024  # bytes per block: at most 16 x 4 x 64 KiB = 4 MiB read, whatever the data's size


def data_paths(data_config: Mapping[str, Any]) -> list[Path]:
    """The existing files and folders the data config names (its keys ending in path or dir)."""
    values = [v for k, v in data_config.items() if str(k).endswith(("path", "dir")) and v]
    return sorted({Path(str(v)).resolve() for v in values if Path(str(v)).exists()})


def data_files(root: Path) -> Iterator[Path]:
    """The files under `root` (or `root` itself), hidden ones (.gitkeep, .DS_Store) left out."""
    if root.is_file():
        yield root
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder, name)


def data_fingerprint(data_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """{paths, files, bytes, listing (hash of each file's name and size), times (hash of their
    modification times), sample (hash of the sampled contents)}; None without data files."""
    paths = data_paths(data_config)
    files = [(root, file, file.stat()) for root in paths for file in data_files(root)]
    if not files:
        return None
    listing, times, sample = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    for root, file, stat in files:
        name = f"{root.name}/{file.relative_to(root)}" if root.is_dir() else root.name
        listing.update(f"{name}\t{stat.st_size}\n".encode())
        times.update(f"{name}\t{stat.st_mtime_ns}\n".encode())
    draw = random.Random(0)  # the same files and offsets for the same listing
    for index in sorted(draw.sample(range(len(files)), min(SAMPLE_FILES, len(files)))):
        _, file, stat = files[index]
        last = max(stat.st_size - BLOCK, 0)
        offsets = [0, *sorted(draw.randint(0, last) for _ in range(SAMPLE_BLOCKS - 1))]
        with file.open("rb") as handle:
            for offset in offsets:
                handle.seek(offset)
                sample.update(handle.read(BLOCK))
    return {
        "paths": [str(path) for path in paths],
        "files": len(files),
        "bytes": sum(stat.st_size for _, _, stat in files),
        "listing": listing.hexdigest()[:16],
        "times": times.hexdigest()[:16],
        "sample": sample.hexdigest()[:16],
    }


def data_change(trained: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> str | None:
    """How the data differs from the fingerprint a model was trained with, in a few words;
    None when it does not (or when either has none: generated data, an older checkpoint)."""
    if not trained or not now or dict(trained) == dict(now):
        return None
    if trained["paths"] != now["paths"]:
        return f"other paths: {', '.join(now['paths'])}, trained on {', '.join(trained['paths'])}"
    if (trained["files"], trained["bytes"]) != (now["files"], now["bytes"]):
        return (
            f"{now['files']} files, {now['bytes']} bytes now; {trained['files']} files,"
            f" {trained['bytes']} bytes in training"
        )
    if trained["listing"] != now["listing"] or trained["sample"] != now["sample"]:
        return "the same number of files and bytes, with other names, sizes or contents"
    return "the same files, sizes and sampled contents, with other modification times"
