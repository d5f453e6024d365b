"""What a run leaves in its folder for people and tools: its config, provenance and metrics.

Every file is written atomically (`atomic_open`), and a folder belongs to one config
(`check_run_folder`, and `RunFolderCheck` before Hydra writes into it). Imported by Hydra at
start-up (the callback in conf/hydra/default.yaml), so it stays light: no torch, no Lightning.
Its modules, which import torch, read what runs leave: `checks`, the checks before a task starts
(the run folder, the checkpoint to start from), and `checkpoints`, a checkpoint's own settings.
"""

import json
import os
import platform
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path
from typing import IO, Any, cast

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError, ProjectError, exit_with

PACKAGES = ("torch", "lightning", "torchmetrics", "hydra-core", "omegaconf", "numpy")
RUN_INFO = "run_info.json"  # written once training starts: a folder without it never ran
RUN_CONFIG = "run_config"  # the checkpoint's key for the resolved config of its run
DATA_FINGERPRINT = "data_fingerprint"  # run_info.json's and the checkpoint's: runs/fingerprint.py
TRACKER_RUNS = "tracker_runs"  # the checkpoint's: {logger key: the arguments that continue its run}
RESOLVED_CONFIG = "config_resolved.yaml"  # the config the run's work started with
PARTIAL = ".*.????????.tmp"  # atomic_open's temporary files: .<name>.<8 random hex digits>.tmp


def job_config(cfg: DictConfig, resolve: bool = True) -> dict[str, Any]:
    """The run's config as plain containers, without Hydra's own node: resolved, or with
    `${...}` and `???` left as written."""
    job = OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key != "hydra"])
    return cast(dict[str, Any], OmegaConf.to_container(job, resolve=resolve))


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
    versions: dict[str, str | None] = dict.fromkeys(names)  # None: not installed
    for name in names:
        with suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@contextmanager
def atomic_open(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """`open(path, mode)` for writing, where `path` changes only once the file is complete.

    The data goes to a temporary file in the same folder, which then replaces `path` in one
    rename: a crash or a full disk midway leaves the previous file as it was (and removes the
    partial one). The same folder, because a rename is atomic only within one filesystem.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, mode.replace("w", "x"), **kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it the file
        os.replace(temporary, path)
    except BaseException as error:
        with suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError) and error.errno and not error.filename:
            raise OSError(error.errno, error.strerror, str(path)) from error  # name the file
        raise


def remove_partial_files(folder: Path) -> None:
    """Deletes the temporary files of `atomic_open` in `folder` and below, which a process
    killed midway (SIGKILL, a lost node) leaves; for a run resuming in its folder alone, as the
    folder's writes are its own."""
    for path in list(folder.rglob(PARTIAL)):  # listed first: the walk does not see its deletions
        path.unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    with atomic_open(path) as file:
        file.write(text)


def record_run(
    output_dir: Path, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> None:
    """Writes config_resolved.yaml and run_info.json (git, versions, command, and `extra`
    such as the data's fingerprint) into the run."""
    write_atomically(output_dir / RESOLVED_CONFIG, OmegaConf.to_yaml(config))
    info = {
        "command": sys.argv,
        "git": git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
        **(extra or {}),
    }
    write_atomically(output_dir / RUN_INFO, json.dumps(info, indent=2) + "\n")


def save_metrics(metrics: Mapping[str, float], path: Path, title: str = "Final metrics") -> None:
    """Writes the metrics to `path` (metrics.json) and prints them as a table."""
    from rich.console import Console
    from rich.table import Table

    write_atomically(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        table.add_row(name, f"{metrics[name]:.6g}")
    Console().print(table)


def config_differences(before: Any, after: Any, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """{dotted key: (value before, value after)} for every key whose value differs; a key
    only one config has shows the other side as None."""
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return {} if before == after else {prefix.rstrip("."): (before, after)}
    differences: dict[str, tuple[Any, Any]] = {}
    for key in [*before, *(key for key in after if key not in before)]:
        differences |= config_differences(before.get(key), after.get(key), f"{prefix}{key}.")
    return differences


def check_run_folder(run_dir: Path, config: Mapping[str, Any], recorded: str) -> None:
    """Refuses `run_dir` when the config recorded there (the file `recorded`) is not `config`.

    A run folder belongs to one config: the same config again is a requeued or restarted job,
    which continues from the folder's last.ckpt; any other would mix two runs in one folder.
    """
    path = run_dir / recorded
    if not path.is_file():
        return
    differences = config_differences(OmegaConf.to_container(OmegaConf.load(path)), config)
    if not differences:
        return
    shown = [f"{key}={new} (was {old})" for key, (old, new) in list(differences.items())[:4]]
    more = f" and {len(differences) - 4} more" if len(differences) > 4 else ""
    raise ConfigError(
        f"{run_dir} holds a run of another config ({', '.join(shown)}{more}); leave"
        " hydra.run.dir unset for a new folder, or train on from that run in a new one with"
        f" ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"
    )


class RunFolderCheck(Callback):
    """Hydra callback: refuses to reuse a run folder for another config before Hydra writes
    into it (its composed config, overrides and log would replace the first run's)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            subdir = config.hydra.output_subdir
            run_dir = Path(config.hydra.run.dir)
        except Exception:  # a run folder that needs the running job's Hydra state: Hydra's turn
            return
        if subdir is None:  # a process other than rank 0, which writes no folder
            return
        try:
            check_run_folder(run_dir, job_config(config, resolve=False), f"{subdir}/config.yaml")
        except ProjectError as err:
            # Hydra turns a callback's exception into a warning and goes on: stop here instead.
            exit_with(str(err))
