"""Shared fixtures: configs composed in-process, exactly as `python train.py` composes them."""

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from {{ cookiecutter.package_name }}.cli import config_dir

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def compose_train_config(output_dir: Path, *overrides: str) -> DictConfig:
    """conf/train.yaml with overrides; the run writes into output_dir instead of logs/."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.root_dir = str(output_dir)
        cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """`make_config("model=mlp", "trainer.max_epochs=2")` -> a config that writes to tmp_path."""
    return lambda *overrides: compose_train_config(tmp_path, *overrides)
