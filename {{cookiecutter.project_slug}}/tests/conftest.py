"""Shared fixtures: configs composed in-process, exactly as `python train.py` composes them."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from {{ cookiecutter.package_name }}.cli import CONFIG_DIR  # importing it registers the schemas

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def compose_config(output_dir: Path, *overrides: str, config_name: str = "train") -> DictConfig:
    """conf/<config_name>.yaml with overrides; the run writes into output_dir, not logs/."""
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.root_dir = str(output_dir)
        cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """`make_config("model=mlp", "trainer.max_epochs=2")` -> a config that writes to tmp_path."""
    return lambda *overrides: compose_config(tmp_path, *overrides)


@contextmanager
def running_job(cfg: DictConfig) -> Iterator[DictConfig]:
    """Makes `cfg` (composed with `return_hydra_config=True`) the running job's, as Hydra does."""
    HydraConfig().set_config(cfg)
    try:
        yield cfg
    finally:
        HydraConfig.instance().cfg = None


def run_script(
    cwd: Path, script: str, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """`python <script> <args>` in a fresh process, as a user runs it, from `cwd`."""
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | env,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one `Error: ...` line a failed command printed (exit 1, no traceback)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    return line
