"""Drop the files that the chosen options make irrelevant.

Cookiecutter renders this file with Jinja and runs it inside the generated project. Each option
that removes files adds one entry to REMOVALS, so the template keeps a single tree and this
hook stays the only place that prunes it.
"""

import shutil
from pathlib import Path

LICENSE = r"""{{ cookiecutter.license }}"""

# (condition, paths relative to the project root to delete when it holds)
REMOVALS: list[tuple[bool, list[str]]] = [
    (LICENSE == "none", ["LICENSE"]),
]


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def main() -> None:
    root = Path.cwd()
    for condition, paths in REMOVALS:
        if condition:
            for relative in paths:
                remove(root / relative)


if __name__ == "__main__":
    main()
