"""Every option of every group composes, resolves and builds."""

import subprocess
import sys

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import OmegaConf, open_dict

from {{ cookiecutter.package_name }}.build import build_group
from {{ cookiecutter.package_name }}.config import config_dir, instantiate
from {{ cookiecutter.package_name }}.training import train

from .conftest import CONFIG_DIR, running_job

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
            assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)
        except MisconfigurationException:  # Lightning refuses hardware the machine lacks
            assert cfg.trainer.accelerator in ("gpu", "mps")
    elif group in ("callbacks", "logger"):
        built = build_group(group, cfg[group])
        assert len(built) == len([node for node in (cfg[group] or {}).values() if node])


@pytest.mark.parametrize("data", ["regression", "digits"])
@pytest.mark.parametrize("model", ["linear", "mlp", "cnn"])
def test_every_model_takes_its_shapes_from_every_data(make_config, model: str, data: str) -> None:
    cfg = make_config(f"model={model}", f"data={data}")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    module = instantiate(cfg.model)
    module.build(datamodule.task, datamodule.input_shape, datamodule.num_outputs)
    x, _ = next(iter(datamodule.train_dataloader()))
    assert module(x).shape == (len(x), datamodule.num_outputs)
    assert module.hparams.input_shape == list(datamodule.input_shape)  # saved in checkpoints


def test_any_trainer_argument_can_be_added(make_config) -> None:
    cfg = make_config("+trainer.limit_val_batches=2", "+trainer.max_time=00:00:10:00")
    assert instantiate(cfg.trainer, logger=False).limit_val_batches == 2


def test_the_configs_compose_after_one_documented_call(tmp_path) -> None:
    """Hydra's compose API needs only `register_configs()`, for every command's config: no
    import of the command line."""
    script = """
import sys
from hydra import compose, initialize_config_dir
from {{ cookiecutter.package_name }}.config import config_dir, register_configs
register_configs()
with initialize_config_dir(config_dir=str(config_dir())):
    for path in sorted(config_dir().glob("*.yaml")):
        cfg = compose(config_name=path.stem, overrides=["model=mlp"])
        print(path.stem, cfg.model.net["_target_"])
print("{{ cookiecutter.package_name }}.cli" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    *composed, cli_imported = result.stdout.splitlines()
    commands = sorted(path.stem for path in config_dir().glob("*.yaml"))
    net = "{{ cookiecutter.package_name }}.models.mlp.MLP"
    assert composed == [f"{name} {net}" for name in commands]
    assert {"train", "eval", "predict"} <= set(commands) and cli_imported == "False"


def test_monitored_metric_is_shared_by_checkpointing_and_the_scheduler(make_config) -> None:
    cfg = make_config("model=mlp", "monitor.metric=val/r2", "monitor.mode=max")
    checkpoint = instantiate(cfg.callbacks.model_checkpoint)
    assert (checkpoint.monitor, checkpoint.mode) == ("val/r2", "max")
    assert cfg.model.monitor == "val/r2" and cfg.model.scheduler.mode == "max"


def test_each_run_directory_is_unique_to_the_microsecond() -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", return_hydra_config=True)
    run = OmegaConf.to_container(cfg.hydra.run, resolve=False)
    assert isinstance(run, dict) and "/runs/" in run["dir"] and "%f" in run["dir"]
    assert cfg.hydra.job.name == "train"


def test_train_accepts_a_config_composed_with_the_hydra_config(tmp_path) -> None:
    # The test idiom of lightning-hydra-template: compose with Hydra's own node and set it.
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(
            config_name="train",
            overrides=["debug=fdr", "logger=csv"],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.log_dir = str(tmp_path)
    with running_job(cfg):
        metrics = train(cfg)
    assert "test/loss" in metrics and (tmp_path / "metrics.json").is_file()
    assert "hydra" not in (tmp_path / "config_resolved.yaml").read_text().splitlines()[0]
