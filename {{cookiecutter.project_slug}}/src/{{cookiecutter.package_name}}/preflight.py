"""Checks that run before any work starts, so a bad setting fails in a second, not an hour in."""

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import ConfigError


def check_accelerator(accelerator: str) -> None:
    """Fail with a fix when the trainer asks for hardware this machine does not have."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.accelerator=gpu needs a CUDA GPU, but none is visible"
            " (torch.cuda.is_available() is False); use trainer=cpu, or check the NVIDIA"
            " driver and CUDA_VISIBLE_DEVICES"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "trainer.accelerator=mps needs Apple-silicon MPS, which this machine lacks;"
            " use trainer=cpu"
        )


def check_precision(accelerator: str, precision: Any) -> None:
    """float16 autocast needs a GPU; the CPU does mixed precision in bfloat16."""
    if accelerator == "cpu" and str(precision) in ("16", "16-mixed", "16-true"):
        raise ConfigError(
            f"trainer.precision={precision} needs a GPU; on the CPU use"
            " trainer.precision=bf16-mixed or 32-true"
        )


def check_devices(accelerator: str, devices: Any) -> None:
    """More devices than the machine has is an error here, not a hang in process-group setup."""
    if isinstance(devices, int) and devices > 0:
        wanted = devices
    elif isinstance(devices, list | tuple):
        wanted = len(devices)
    else:
        return  # "auto", -1 or a string: Lightning picks what exists
    if accelerator in ("gpu", "cuda"):
        available, what = torch.cuda.device_count(), "CUDA GPUs"
    elif accelerator == "cpu":
        available, what = os.cpu_count() or 1, "CPU cores"
    else:
        return
    if wanted > available:
        raise ConfigError(
            f"trainer.devices={devices} asks for {wanted} devices but this machine has"
            f" {available} {what}; use trainer.devices={available} or fewer"
        )


def check_writable(directory: str | os.PathLike[str], key: str) -> None:
    """Runs must be able to write their directory: create it and write a probe file into it."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise ConfigError(
            f"{key}={directory} cannot be written ({err.strerror});"
            f" point {key} at a writable folder, e.g. {key}=/tmp/logs"
        ) from None


def find_checkpoint(
    ckpt_path: str | None, log_dir: str | os.PathLike[str], required: bool = False
) -> str | None:
    """`ckpt_path` as a file: `last` is the newest run's checkpoints/last.ckpt under log_dir."""
    if ckpt_path is None:
        if required:
            raise ConfigError(
                "this command needs a checkpoint: add ckpt_path=path/to/file.ckpt"
                " or ckpt_path=last (the newest run's last.ckpt)"
            )
        return None
    if ckpt_path == "last":
        candidates = sorted(Path(log_dir).glob("runs/*/checkpoints/last.ckpt"))
        if not candidates:
            raise ConfigError(
                f"ckpt_path=last found no runs/*/checkpoints/last.ckpt under {log_dir};"
                " train first, or give the file: ckpt_path=path/to/file.ckpt"
            )
        return str(candidates[-1].resolve())  # run folders are named by start time
    if not Path(ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path} is not a file; give an existing .ckpt"
            " (e.g. logs/runs/<run>/checkpoints/last.ckpt) or ckpt_path=last"
        )
    return ckpt_path


def check_hardware(accelerator: str, devices: Any, precision: Any) -> None:
    """All checks of the trainer settings against this machine."""
    check_accelerator(accelerator)
    check_devices(accelerator, devices)
    check_precision(accelerator, precision)


SUBMITIT_LAUNCHERS = ("slurm", "local", "submitit_slurm", "submitit_local")


def check_launcher(launcher: str) -> None:
    """The cluster launchers come with an optional extra; say so instead of a Hydra error."""
    plugin = importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher")
    if launcher in SUBMITIT_LAUNCHERS and plugin is None:
        raise ConfigError(
            f"hydra/launcher={launcher} needs the hydra-submitit-launcher plugin;"
            ' install the cluster extra: pip install -e ".[cluster]"'
        )


def check_multirun_processes(strategy: Any, devices: Any, launcher: str | None) -> None:
    """DDP that starts its own processes cannot run as a job of a local multirun.

    Lightning starts the extra processes by running the command line again, and in a multirun
    that command line is the whole sweep: each extra process would run every job itself.
    SLURM jobs are different: srun starts every process, and Lightning starts none.
    """
    spawns = str(strategy).startswith("ddp") and str(devices) != "1"
    if spawns and launcher not in ("slurm", "submitit_slurm"):
        raise ConfigError(
            f"trainer.strategy={strategy} with trainer.devices={devices} starts extra processes,"
            " which in a multirun (-m) would each rerun the whole sweep; run the jobs on SLURM"
            " (hydra/launcher=slurm), or one at a time without -m"
        )
