"""What a run leaves in its folder for people and tools: its config, provenance and metrics."""

import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

PACKAGES = ("torch", "lightning", "torchmetrics", "hydra-core", "omegaconf", "numpy")
RUN_INFO = "run_info.json"  # written once training starts: a folder without it never ran
RUN_CONFIG = "run_config"  # the checkpoint's key for the resolved config of its run


def job_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config resolved to plain values, without Hydra's own node."""
    keys = [str(key) for key in cfg if key != "hydra"]
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, keys), resolve=True)  # type: ignore[return-value]


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


def record_run(output_dir: Path, config: Mapping[str, Any]) -> None:
    """Writes config_resolved.yaml and run_info.json (git, versions, command) into the run."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(config))
    info = {
        "command": sys.argv,
        "git": git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
    }
    (output_dir / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")


def save_metrics(metrics: Mapping[str, float], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(metrics.items())), indent=2) + "\n")


def print_metrics(metrics: Mapping[str, float], title: str = "Final metrics") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        table.add_row(name, f"{metrics[name]:.6g}")
    Console().print(table)
