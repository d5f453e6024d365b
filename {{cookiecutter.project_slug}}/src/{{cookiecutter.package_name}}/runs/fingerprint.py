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


def data_files(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """(path, name under root's folder, stat) of every file under `root` (or `root` itself),
    hidden ones (.gitkeep, .DS_Store) left out; plain strings, which keep 20,000 files fast."""
    if root.is_file():
        yield str(root), root.name, root.stat()
        return
    start = len(str(root.parent)) + 1
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                path = os.path.join(folder, name)
                yield path, path[start:], os.stat(path)


def data_fingerprint(data_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """{paths, files, bytes, and hashes of the files' names and sizes, of their modification
    times and of the sampled contents}; None without data files."""
    paths = data_paths(data_config)
    files = [file for root in paths for file in data_files(root)]
    if not files:
        return None
    names = hashlib.sha256("".join(f"{name}\t{st.st_size}\n" for _, name, st in files).encode())
    times = hashlib.sha256("".join(f"{name}\t{st.st_mtime_ns}\n" for _, name, st in files).encode())
    sample = hashlib.sha256()
    draw = random.Random(0)  # the same files and offsets for the same listing
    for index in sorted(draw.sample(range(len(files)), min(SAMPLE_FILES, len(files)))):
        path, _, stat = files[index]
        last = max(stat.st_size - BLOCK, 0)
        offsets = [0, *sorted(draw.randint(0, last) for _ in range(SAMPLE_BLOCKS - 1))]
        with open(path, "rb") as handle:
            for offset in offsets:
                handle.seek(offset)
                sample.update(handle.read(BLOCK))
    return {
        "paths": [str(path) for path in paths],
        "files": len(files),
        "bytes": sum(stat.st_size for _, _, stat in files),
        "names_and_sizes": names.hexdigest()[:16],
        "modification_times": times.hexdigest()[:16],
        "sampled_contents": sample.hexdigest()[:16],
    }


def data_change(trained: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> str | None:
    """What differs between the data a model was trained on and the data now, in one line;
    None when nothing does (or either has no fingerprint: generated data, an older checkpoint)."""
    if not (trained and now):
        return None
    changed = [key for key in trained if trained[key] != now.get(key)]
    sizes = "{files} files of {bytes} bytes"
    now_and_then = f"{sizes.format(**now)}; trained on {sizes.format(**trained)}"
    return f"{', '.join(changed)} differ ({now_and_then})" if changed else None
