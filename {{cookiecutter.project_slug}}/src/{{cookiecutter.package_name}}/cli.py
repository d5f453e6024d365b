"""Command line: `python train.py [overrides]` composes conf/train.yaml and runs `train`."""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .errors import ConfigError
from .sweeps import run_trial
from .training import train


def config_dir() -> Path:
    """The checkout's `conf/` when running from source, else the copy shipped inside the wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parents[1] / "conf", package_dir / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/train.yaml near {package_dir}; reinstall the project")


def main() -> None:
    """Entry point of `train.py` and of the installed `<project>-train` command."""
    hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")(_run)()


def _run(cfg: DictConfig) -> float | None:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        # A failing trial raises, so the sweeper records it as failed and goes on with the rest.
        metric = cfg.get("optimized_metric") or cfg.monitor.metric
        return run_trial(lambda: train(cfg), metric)
    try:
        metrics = train(cfg)
    except ConfigError as err:
        # Bad input gets one line and a non-zero exit, not a traceback.
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    return metrics.get(cfg.monitor.metric)  # the value a sweeper optimises
