"""What a run records about itself, so its result can be traced and reproduced."""

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only

PACKAGES = ("torch", "lightning", "torchmetrics", "hydra-core", "omegaconf", "numpy", "rich")


def git_state(directory: Path) -> dict[str, Any]:
    """The commit of the repository holding `directory` and whether its tree had changes."""
    try:
        commit = _git(directory, "rev-parse", "HEAD")
        dirty = bool(_git(directory, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}  # not a git checkout (e.g. an installed wheel)
    return {"commit": commit, "dirty": dirty}


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@rank_zero_only
def record_run(output_dir: Path, resolved_config: str) -> None:
    """Writes config_resolved.yaml and run_info.json (git, versions, command) into the run."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config_resolved.yaml").write_text(resolved_config)
    info = {
        "command": sys.argv,
        "git": git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
    }
    (output_dir / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
