"""Loads `.env` (KEY=value lines) into the environment, so secrets stay out of configs and git."""

import os
from pathlib import Path


def load_env_file(path: Path) -> list[str]:
    """Sets each variable of `path` that the environment does not already set; returns their names.

    Variables already in the environment win, like python-dotenv's default. Blank lines, `#`
    comments (also after an unquoted value) and an `export ` prefix are allowed; values may be
    quoted.
    """
    if not path.is_file():
        return []
    loaded = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()  # `KEY=value  # comment`, as dotenv reads it
        if key and key not in os.environ:
            os.environ[key] = value
            loaded.append(key)
    return loaded
