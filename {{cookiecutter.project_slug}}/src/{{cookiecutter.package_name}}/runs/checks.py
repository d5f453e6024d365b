"""The checks a composed config gets before a task builds anything: one bad value costs a second.

Only what no library checks: Hydra checks keys and types against the schemas (config/) and
names the config key of a `_target_` that refuses its arguments; Lightning refuses GPUs the
machine lacks. Left here: what no library checks before the run starts (NaN anywhere; a learning
rate, batch size or worker count that torch refuses only once fitting has begun; more CPU
processes than cores, which Lightning would start), the monitored metric of the data's task, the
run folder, and the checkpoint to start from.
"""

import difflib
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from ..config import on_rank_zero
from ..errors import ConfigError
from ..models.supervised import metric_names
from . import RESOLVED_CONFIG, check_run_folder, job_config

log = logging.getLogger(__name__)

# Where `ckpt_path=last` looks under paths.log_dir; debug runs (logs/debug/) are left out.
LAST_CHECKPOINTS = (
    "runs/*/checkpoints/last.ckpt",
    "multiruns/*/*/checkpoints/last.ckpt",
    "sweeps/*/*/checkpoints/last.ckpt",
)


def check_before_start(cfg: DictConfig, checkpoint_required: bool = False) -> str | None:
    """Every check of `cfg`; returns the checkpoint to start from (`ckpt_path`), as a file."""
    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    # The other processes of a DDP run share rank 0's folder when it is given (hydra.run.dir),
    # and have none otherwise (their output_dir is where they were started): check the same.
    if on_rank_zero(True, output_dir.resolve() != Path.cwd().resolve()):
        check_run_folder(output_dir, job_config(cfg), RESOLVED_CONFIG)
    # A multirun's own jobs' checkpoints are not for `ckpt_path=last` (job 1 would resume from
    # job 0's).
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    skip = Path(HydraConfig.get().sweep.dir) if multirun else None
    return find_checkpoint(cfg.get("ckpt_path"), cfg.paths.log_dir, checkpoint_required, skip)


def check_config(cfg: DictConfig) -> None:
    """What the config alone decides, on any machine: values and monitored metrics."""
    check_values(cfg)
    for key, value in nodes(job_config(cfg, resolve=False)):
        if value == "???":
            raise ConfigError(f"{key} has no value (??? in the config); set {key}=...")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value} is not a finite number; give a number, e.g. 0.1")
    check_monitored_metrics(cfg)


def check_monitored_metrics(cfg: DictConfig) -> None:
    """`monitor.metric`, `optimized_metric` and every callback's or the model's own `monitor`
    are metrics the data's task logs: a typo stops the run now, not after its first epoch."""
    task = data_task(cfg.data)
    if cfg.get("optimized_metric"):  # first: a search's monitor.metric is set from it
        check_monitored_metric("optimized_metric", cfg.optimized_metric, task)
    if cfg.monitor.metric != cfg.get("optimized_metric"):
        check_monitored_metric("monitor.metric", cfg.monitor.metric, task)
    for key, node in nodes(job_config(cfg, resolve=False)):  # callbacks, the model's scheduler
        targeted = isinstance(node, dict) and "_target_" in node and "monitor" in node
        monitor = OmegaConf.select(cfg, f"{key}.monitor") if targeted else None
        if isinstance(monitor, str) and monitor != cfg.monitor.metric:
            check_monitored_metric(f"{key}.monitor", monitor, task)


def check_values(cfg: DictConfig) -> None:
    """Values of the right type that still cannot work."""
    lr = OmegaConf.select(cfg, "model.optimizer.lr")
    if isinstance(lr, int | float) and not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"model.optimizer.lr={lr} must be a positive number, e.g. 0.01")
    # The DataLoader checks these only when the first epoch starts: here they cost no run.
    for key, low in (("data.batch_size", 1), ("data.num_workers", 0)):
        value = OmegaConf.select(cfg, key)
        if isinstance(value, int) and value < low:
            raise ConfigError(f"{key}={value} must be at least {low}")
    if cfg.monitor.mode not in ("min", "max"):
        raise ConfigError(f"monitor.mode={cfg.monitor.mode} must be min or max")
    # Lightning refuses more GPUs than exist, but starts any number of CPU processes.
    devices, cores = OmegaConf.select(cfg, "trainer.devices"), os.cpu_count() or 1
    on_cpu = OmegaConf.select(cfg, "trainer.accelerator") == "cpu"
    if on_cpu and isinstance(devices, int) and devices > cores:
        raise ConfigError(
            f"trainer.devices={devices} starts {devices} processes on a machine with {cores} CPU"
            f" cores; use trainer.devices={cores} or fewer"
        )


def nodes(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of a config container and of every value in it, depth first."""
    yield prefix.rstrip("."), node
    if isinstance(node, dict | list):
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            yield from nodes(value, f"{prefix}{key}.")


def data_task(data: DictConfig) -> str:
    """The data's task: its `task` setting, else the DataModule class's own."""
    task = data.get("task") or getattr(get_object(data["_target_"]), "task", None)
    if task not in ("regression", "classification"):
        raise ConfigError(f"data.task={task} is not regression or classification")
    return str(task)


def check_monitored_metric(key: str, metric: str, task: str) -> None:
    """`metric` must be logged during fitting by a run on this task (train/ or val/)."""
    names = metric_names(task)
    known = [f"val/{name}" for name in names] + [f"train/{n}" for n in names if n != "acc_best"]
    if metric.startswith("test/"):
        raise ConfigError(
            f"{key}={metric}: test metrics exist only after training, and a run must not be"
            f" chosen by its test score; use val/{metric.removeprefix('test/')}"
        )
    if metric not in known:
        guess = difflib.get_close_matches(metric, known, n=1, cutoff=0.7)
        hint = f"did you mean {guess[0]}? " if guess else ""
        raise ConfigError(
            f"{key}={metric} is not logged by {task} runs; {hint}choose one of: {', '.join(known)}"
        )


def find_checkpoint(
    ckpt_path: str | None,
    log_dir: str | os.PathLike[str],
    required: bool = False,
    skip: Path | None = None,
) -> str | None:
    """`ckpt_path` as a readable file. `last` is the newest last.ckpt of any run, multirun job
    or sweep trial under `log_dir`, except those in the folder `skip`; debug runs (in
    logs/debug/) never count."""
    if ckpt_path is None:
        if required:
            raise ConfigError(
                "this command needs a checkpoint: add ckpt_path=path/to/file.ckpt"
                " or ckpt_path=last (the newest last.ckpt under logs/)"
            )
        return None
    if ckpt_path == "last":
        found = [path for pattern in LAST_CHECKPOINTS for path in Path(log_dir).glob(pattern)]
        if skip is not None:
            found = [path for path in found if not path.resolve().is_relative_to(skip.resolve())]
        if not found:
            raise ConfigError(
                f"ckpt_path=last found no last.ckpt of a run, multirun or sweep under {log_dir}"
                " (debug runs do not count); train first, or give the file:"
                " ckpt_path=path/to/file.ckpt"
            )
        ckpt_path = str(max(found, key=lambda path: path.stat().st_mtime).resolve())
        log.info("ckpt_path=last: %s, the newest last.ckpt under %s", ckpt_path, log_dir)
    if not Path(ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path} is not a file; give an existing .ckpt"
            " (e.g. logs/runs/<run>/checkpoints/last.ckpt) or ckpt_path=last"
        )
    try:  # memory-mapped: reads the index, not the weights
        torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:
        raise ConfigError(
            f"ckpt_path={ckpt_path} is not a readable checkpoint ({str(err).splitlines()[0]});"
            " give a .ckpt file saved by a run"
        ) from None
    return ckpt_path
