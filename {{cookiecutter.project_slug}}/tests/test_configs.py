"""Every option of every config group composes, resolves and builds."""

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from {{ cookiecutter.package_name }}.cli import config_dir
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.preflight import check_accelerator
from {{ cookiecutter.package_name }}.training import instantiate_group

CONF = config_dir()
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())
OPTIONS = [(group, p.stem) for group in GROUPS for p in sorted((CONF / group).glob("*.yaml"))]


def test_the_expected_groups_exist() -> None:
    expected = {"callbacks", "data", "hydra", "logger", "model", "paths", "trainer"}
    assert expected <= set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_builds(make_config, group: str, option: str) -> None:
    cfg = make_config(f"{group}={option}")
    OmegaConf.resolve(cfg)  # every interpolation points somewhere
    if group == "data":
        assert isinstance(instantiate(cfg.data), L.LightningDataModule)
    elif group == "model":
        assert isinstance(instantiate(cfg.model), L.LightningModule)
    elif group == "trainer":
        try:
            check_accelerator(cfg.trainer.accelerator)
        except ConfigError:
            assert cfg.trainer.accelerator in ("gpu", "mps")  # only hardware may be missing
        else:
            assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)
    elif group in ("callbacks", "logger"):
        built = instantiate_group(cfg[group])
        assert len(built) == len([node for node in (cfg[group] or {}).values() if node])


def test_model_reads_its_shapes_and_task_from_the_data(make_config) -> None:
    cfg = make_config("model=mlp", "data.num_features=5", "data.num_outputs=3")
    model = instantiate(cfg.model)
    assert model(torch.randn(2, 5)).shape == (2, 3)
    assert model.hparams.task == cfg.data.task


def test_monitored_metric_is_shared_by_checkpointing_and_the_scheduler(make_config) -> None:
    cfg = make_config("model=mlp", "monitor.metric=val/r2", "monitor.mode=max")
    checkpoint = instantiate(cfg.callbacks.model_checkpoint)
    assert (checkpoint.monitor, checkpoint.mode) == ("val/r2", "max")
    assert cfg.model.monitor == "val/r2" and cfg.model.scheduler.mode == "max"


def test_each_run_directory_is_unique_to_the_microsecond() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", return_hydra_config=True)
    assert cfg.hydra.run.dir.startswith("logs/runs/") or "/logs/runs/" in cfg.hydra.run.dir
    run = OmegaConf.to_container(cfg.hydra.run, resolve=False)
    assert isinstance(run, dict) and "%f" in run["dir"]
    assert cfg.hydra.job.name == "train"
