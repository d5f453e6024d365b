"""The checks a composed config gets before a task builds anything: one bad value costs a second.

Hydra has already checked keys and types against the schemas (config.py). What is left needs
Python: values in range, the `_target_`s' own arguments, the machine's hardware, the monitored
metric of the data's task, the run folder, and the checkpoint to start from.
"""

import difflib
import inspect
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

from .config import on_rank_zero
from .errors import ConfigError
from .models.tasks import metric_names
from .runs import RESOLVED_CONFIG, check_run_folder, job_config, job_keys

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
    check_hardware(cfg.trainer)
    output_dir = Path(cfg.paths.output_dir)
    # The other processes of a DDP run share rank 0's folder when it is given (hydra.run.dir),
    # and have none otherwise (their output_dir is where they were started): check the same.
    if on_rank_zero(True, output_dir.resolve() != Path.cwd().resolve()):
        check_run_folder(output_dir, job_config(cfg), RESOLVED_CONFIG)
    return find_checkpoint(
        cfg.get("ckpt_path"), cfg.paths.log_dir, checkpoint_required, running_multirun()
    )


def running_multirun() -> Path | None:
    """The folder of the multirun this job belongs to, if any: its jobs' checkpoints are not
    for `ckpt_path=last` (job 1 would resume from job 0's)."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir)


def check_config(cfg: DictConfig) -> None:
    """What the config alone decides, on any machine: values, arguments, monitored metrics."""
    check_no_missing_values(cfg)
    check_values(cfg)
    for key, node in target_nodes(cfg):
        check_arguments(key, node)
    check_monitored_metrics(cfg)


def check_monitored_metrics(cfg: DictConfig) -> None:
    """`monitor.metric`, `optimized_metric` and every callback's or the model's own `monitor`
    are metrics the data's task logs: a typo stops the run now, not after its first epoch."""
    task = data_task(cfg.data)
    if cfg.get("optimized_metric"):  # first: a search's monitor.metric is set from it
        check_monitored_metric("optimized_metric", cfg.optimized_metric, task)
    if cfg.monitor.metric != cfg.get("optimized_metric"):
        check_monitored_metric("monitor.metric", cfg.monitor.metric, task)
    for key, node in target_nodes(cfg):  # callbacks, the model's scheduler
        monitor = node.get("monitor")
        if isinstance(monitor, str) and monitor != cfg.monitor.metric:
            check_monitored_metric(f"{key}.monitor", monitor, task)


def check_no_missing_values(cfg: DictConfig, prefix: str = "") -> None:
    keys = job_keys(cfg) if not prefix else [str(key) for key in cfg]
    for key in keys:
        if OmegaConf.is_missing(cfg, key):
            raise ConfigError(
                f"{prefix}{key} has no value (??? in the config); set {prefix}{key}=..."
            )
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_interpolation() and not node._is_none():
            check_no_missing_values(node, f"{prefix}{key}.")


def _number(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def check_values(cfg: DictConfig) -> None:
    """Values of the right type that still cannot work."""
    lr = _number(cfg, "model.optimizer.lr")
    if isinstance(lr, int | float) and not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"model.optimizer.lr={lr} must be a positive number, e.g. 0.01")
    for key, value in numbers(OmegaConf.to_container(OmegaConf.masked_copy(cfg, job_keys(cfg)))):
        if not math.isfinite(value):
            raise ConfigError(f"{key}={value} is not a finite number; give a number, e.g. 0.1")
    for key, low in (("data.batch_size", 1), ("data.num_workers", 0), ("trainer.max_epochs", -1)):
        value = _number(cfg, key)
        if isinstance(value, int) and value < low:
            raise ConfigError(f"{key}={value} must be at least {low}")
    fractions = [(key, _number(cfg, key)) for key in ("data.val_fraction", "data.test_fraction")]
    given = [(key, value) for key, value in fractions if isinstance(value, int | float)]
    if any(not 0 <= value < 1 for _, value in given) or sum(v for _, v in given) >= 1:
        shown = " and ".join(f"{key}={value}" for key, value in given)
        raise ConfigError(f"{shown} must be in [0, 1) and leave samples for training")
    folds, fold = _number(cfg, "data.num_folds"), _number(cfg, "data.fold")
    if folds is not None and not (
        isinstance(folds, int) and folds >= 2 and isinstance(fold, int) and 0 <= fold < folds
    ):
        raise ConfigError(
            f"data.fold={fold} with data.num_folds={folds}: num_folds must be at least 2 and the"
            " fold one of 0 .. num_folds-1"
        )
    if cfg.monitor.mode not in ("min", "max"):
        raise ConfigError(f"monitor.mode={cfg.monitor.mode} must be min or max")


def numbers(node: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """(dotted key, value) of every float in a config container (interpolations not resolved)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numbers(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numbers(value, f"{prefix}{i}.")
    elif isinstance(node, float):
        yield prefix.rstrip("."), node


def target_nodes(cfg: DictConfig, prefix: str = "") -> Iterator[tuple[str, DictConfig]]:
    """(key, node) of every config node with a `_target_`, depth first."""
    for key in job_keys(cfg) if not prefix else [str(key) for key in cfg]:
        node = cfg._get_node(key)
        if not isinstance(node, DictConfig) or node._is_none() or node._is_interpolation():
            continue
        if "_target_" in node:
            yield f"{prefix}{key}", node
        yield from target_nodes(node, f"{prefix}{key}.")


def accepted_arguments(target: Any) -> set[str] | None:
    """The keyword arguments `target` takes (following `**kwargs` up a class's bases); None
    when it takes any."""
    functions = [target]
    if isinstance(target, type):
        functions = [c.__dict__["__init__"] for c in target.__mro__ if "__init__" in c.__dict__]
    names: set[str] = set()
    for function in functions:
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return None
        names |= {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names - {"self"}
    return None


def check_arguments(key: str, node: DictConfig) -> None:
    """Each key of a `_target_` node is an argument of the target: no leftovers, no typos."""
    target_name = node._target_
    try:
        target = get_object(target_name)
    except Exception as err:  # ImportError, AttributeError, or Hydra's wrapper of them
        raise ConfigError(
            f"{key}._target_={target_name} cannot be imported ({err.__class__.__name__});"
            " check the module path and the class name"
        ) from None
    accepted = accepted_arguments(target)
    if accepted is None:
        return
    for name in map(str, node):
        if name.startswith("_") or name in accepted:
            continue
        guess = difflib.get_close_matches(name, sorted(accepted), n=1)
        hint = f"did you mean {key}.{guess[0]}? " if guess else ""
        raise ConfigError(
            f"{key}.{name} is not an argument of {target_name}; {hint}its arguments are"
            f" {', '.join(sorted(accepted))}"
        )


def data_task(data: DictConfig) -> str:
    """The data's task: its `task` setting, else the DataModule class's own."""
    task = data.get("task") or getattr(get_object(data._target_), "task", None)
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


def check_hardware(trainer: DictConfig) -> None:
    """The trainer's accelerator, device count and precision against this machine."""
    accelerator, devices, precision = trainer.accelerator, trainer.devices, trainer.precision
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
    if accelerator == "cpu" and str(precision) in ("16", "16-mixed", "16-true"):
        raise ConfigError(
            f"trainer.precision={precision} needs a GPU; on the CPU use"
            " trainer.precision=bf16-mixed or 32-true"
        )
    check_devices(accelerator, devices)


def check_devices(accelerator: str, devices: Any) -> None:
    """More devices than the machine has is an error here, not a hang in process-group setup."""
    if isinstance(devices, int) and devices > 0:
        wanted = devices
    elif OmegaConf.is_list(devices) or isinstance(devices, list | tuple):
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
