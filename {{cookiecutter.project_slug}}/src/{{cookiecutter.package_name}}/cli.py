"""Command line: `python train.py|eval.py|predict.py [overrides]` compose conf/<name>.yaml."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .env_file import load_env_file
from .errors import ConfigError
from .evaluation import evaluate, predict
from .preflight import (
    check_hardware,
    check_launcher,
    check_multirun_processes,
    check_writable,
    find_checkpoint,
)
from .schemas import register_schemas
from .sweeps import best_value, run_trial
from .training import train
from .validation import check_overrides

MULTIRUN_FLAGS = ("-m", "--multirun")


def config_dir() -> Path:
    """The checkout's `conf/` when running from source, else the copy shipped inside the wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parents[1] / "conf", package_dir / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/train.yaml near {package_dir}; reinstall the project")


def main() -> None:
    """Entry point of `train.py` and of the installed `<project>-train` command."""
    _launch("train", _run)


def evaluate_main() -> None:
    """Entry point of `eval.py`: test a checkpoint and print its metrics."""
    _launch("eval", _guarded(evaluate))


def predict_main() -> None:
    """Entry point of `predict.py`: write a checkpoint's predictions for one split."""
    _launch("predict", _guarded(predict))


def _launch(config_name: str, task: Callable[[DictConfig], Any]) -> None:
    load_env_file(Path.cwd() / ".env")  # API keys and settings; variables already set win
    register_schemas()
    args = sys.argv[1:]
    if is_secondary_process():
        sys.argv += secondary_process_overrides(args)
    # Hydra's own flags (--cfg, --help, --config-name, ...) run no job: nothing to check.
    elif not any(arg.startswith("-") and arg not in MULTIRUN_FLAGS for arg in args):
        # The searches in conf/hparams_search/ set hydra.mode=MULTIRUN themselves.
        multirun = any(a in MULTIRUN_FLAGS or a.startswith("hparams_search=") for a in args)
        try:
            overrides = [arg for arg in args if not arg.startswith("-")]
            check_before_start(overrides, config_name, multirun)
        except ConfigError as err:
            _fail(err)
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name=config_name)(task)()


def is_secondary_process() -> bool:
    """True in every process but global rank 0 of a DDP run (Lightning, torchrun or SLURM)."""
    return any(os.environ.get(var, "0") != "0" for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"))


def secondary_process_overrides(args: list[str]) -> list[str]:
    """Rank 0 owns the run directory; the other processes log to the console only.

    Lightning re-runs train.py for each extra local process and passes rank 0's directory
    (`hydra.run.dir=...`, `hydra.output_subdir=null`). Processes started by torchrun or srun on
    other nodes have no such directory, so Hydra must not create one: they run in place and
    Lightning sends them rank 0's checkpoint directory.
    """
    overrides = ["hydra/job_logging=stdout"]
    if not any(arg.startswith("hydra.run.dir=") for arg in args):
        overrides += ["hydra.run.dir=.", "hydra.output_subdir=null"]
    return overrides


def check_before_start(
    overrides: list[str], config_name: str = "train", multirun: bool = False
) -> None:
    """Every check that can fail before Hydra creates a run directory."""
    cfg = check_overrides(overrides, config_dir(), config_name)
    hardware = cfg.trainer
    check_hardware(hardware.accelerator, hardware.get("devices"), hardware.get("precision"))
    if multirun:
        launchers = [o.partition("=")[2] for o in overrides if o.startswith("hydra/launcher=")]
        launcher = launchers[-1] if launchers else None
        check_multirun_processes(hardware.get("strategy"), hardware.get("devices"), launcher)
    find_checkpoint(cfg.get("ckpt_path"), cfg.paths.log_dir, required=config_name != "train")
    check_writable(cfg.paths.log_dir, "paths.log_dir")
    for override in overrides:
        key, _, value = override.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir"):
            check_writable(value, key)
        if key == "hydra/launcher":
            check_launcher(value)


def _fail(err: ConfigError) -> None:
    # Bad input gets one line and a non-zero exit, not a traceback.
    print(f"Error: {err}", file=sys.stderr)
    raise SystemExit(1) from None


def config_error(err: BaseException) -> ConfigError | None:
    """The ConfigError behind `err`, if any: Hydra wraps errors raised while instantiating."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ConfigError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _guarded(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    def run(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except Exception as err:
            if (cause := config_error(err)) is None:
                raise
            _fail(cause)

    return run


def _run(cfg: DictConfig) -> float | None:
    metric = cfg.get("optimized_metric") or cfg.monitor.metric  # the value a sweeper optimises
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        # A failing trial raises, so the sweeper records it as failed and goes on with the rest.
        return run_trial(lambda: train(cfg), metric)
    return best_value(_guarded(train)(cfg), metric)
