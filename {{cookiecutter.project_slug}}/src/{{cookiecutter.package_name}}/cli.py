"""Command line: `python train.py|eval.py|predict.py [overrides]` compose conf/<name>.yaml."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from .errors import ConfigError
from .evaluation import evaluate, predict
from .preflight import check_accelerator, check_devices, check_writable, find_checkpoint
from .schemas import register_schemas
from .training import train
from .validation import check_overrides


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
    register_schemas()
    args = sys.argv[1:]
    # Hydra's own flags (--cfg, --help, --config-name, ...) run no job: nothing to check.
    if not any(arg.startswith("-") and arg not in ("-m", "--multirun") for arg in args):
        try:
            check_before_start([arg for arg in args if not arg.startswith("-")], config_name)
        except ConfigError as err:
            _fail(err)
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name=config_name)(task)()


def check_before_start(overrides: list[str], config_name: str = "train") -> None:
    """Every check that can fail before Hydra creates a run directory."""
    cfg = check_overrides(overrides, config_dir(), config_name)
    accelerator = cfg.trainer.get("accelerator", "auto")
    check_accelerator(accelerator)
    check_devices(accelerator, cfg.trainer.get("devices"))
    find_checkpoint(cfg.get("ckpt_path"), cfg.paths.log_dir, required=config_name != "train")
    check_writable(cfg.paths.log_dir, "paths.log_dir")
    for override in overrides:
        key, _, value = override.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir"):
            check_writable(value, key)


def _fail(err: ConfigError) -> None:
    # Bad input gets one line and a non-zero exit, not a traceback.
    print(f"Error: {err}", file=sys.stderr)
    raise SystemExit(1) from None


def _guarded(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], None]:
    def run(cfg: DictConfig) -> None:
        try:
            task(cfg)
        except ConfigError as err:
            _fail(err)

    return run


def _run(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except ConfigError as err:
        _fail(err)
    return metrics.get(cfg.monitor.metric)  # the value a sweeper optimises
