"""Bad input fails before any work starts, with one message naming the key and the fix."""

import os
from pathlib import Path

import pytest
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.cli import check_before_start, config_dir
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.preflight import check_devices, check_writable
from {{ cookiecutter.package_name }}.validation import check_overrides, validate_config

from .test_cli import run_train

BAD_OVERRIDES = [
    (["trainer.max_epoch=3"], "did you mean trainer.max_epochs?"),
    (["model.optimizer.lrr=0.1"], "did you mean model.optimizer.lr?"),
    (["trainer.limit_val_batches=2"], "add it with +trainer.limit_val_batches="),
    (["data.batch_size=abc"], "data.batch_size: Value 'abc'"),
    (["trainer.max_epochs=1.5"], "trainer.max_epochs: Value '1.5'"),
    (["data.num_features=???"], "data.num_features has no value"),
    (["model.optimizer.lr=-0.1"], "model.optimizer.lr=-0.1 must be positive"),
    (["data.batch_size=0"], "data.batch_size=0 must be at least 1"),
    (["trainer=tpu_pod"], "trainer=tpu_pod is not an option; use one of: cpu,"),
    (["-m", "seed=1,two"], "seed: Value 'two'"),  # every value of a sweep is checked
    (["-m", "seed=1,2", "data.batch_size=0"], "data.batch_size=0"),  # would fail every job
]


def test_a_swept_value_that_breaks_only_its_own_job_is_left_to_the_sweep() -> None:
    # The sweep records that job as failed and goes on (tests/test_sweeps.py runs it).
    cfg = check_overrides(["model.optimizer.lr=0.1,-1.0"], config_dir())
    assert cfg.model.optimizer.lr > 0  # the config without the swept values


@pytest.mark.parametrize(("overrides", "message"), BAD_OVERRIDES, ids=lambda v: str(v))
def test_bad_overrides_name_the_key_and_the_fix(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_overrides([o for o in overrides if o != "-m"], config_dir())
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_shipped_option_passes_validation(make_config) -> None:
    for group in ("data", "model", "trainer"):
        for option in sorted(p.stem for p in (config_dir() / group).glob("*.yaml")):
            validate_config(make_config(f"{group}={option}"))


def test_data_options_may_add_keys_of_their_own(make_config) -> None:
    cfg = make_config("+data.image_size=28", "+model.net.extra=1")
    validate_config(cfg)  # open groups: a new datamodule's own keys are welcome
    with open_dict(cfg):
        cfg.trainer.max_epoch = 3
    with pytest.raises(ConfigError, match="did you mean trainer.max_epochs"):
        validate_config(cfg)  # the Trainer's keys are closed


def test_train_validates_configs_built_in_process(make_config) -> None:
    from {{ cookiecutter.package_name }}.training import train

    cfg = make_config()
    cfg.model.optimizer.lr = -1.0
    with pytest.raises(ConfigError, match="must be positive"):
        train(cfg)


def test_missing_checkpoint_and_last_without_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        check_before_start([f"ckpt_path={tmp_path / 'nope.ckpt'}"])
    with pytest.raises(ConfigError, match="found no runs"):
        check_before_start(["ckpt_path=last", f"paths.log_dir={tmp_path}"])


def test_more_devices_than_exist() -> None:
    with pytest.raises(ConfigError, match="use trainer.devices="):
        check_devices("cpu", 10_000)
    many = list(range((os.cpu_count() or 1) + 1))
    with pytest.raises(ConfigError, match=f"asks for {len(many)} devices"):
        check_devices("cpu", many)
    check_devices("cpu", 1)
    check_devices("cpu", "auto")


def test_unwritable_output_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="paths.log_dir=.* cannot be written"):
        check_writable(blocker / "logs", "paths.log_dir")
    check_writable(tmp_path / "new" / "logs", "paths.log_dir")


# Each case starts a process (seconds); the other mistakes are covered in-process above.
CLI_CASES = [
    (["trainer.max_epoch=3"], "did you mean trainer.max_epochs?"),
    (["hydra.run.dir=a_file/run"], "cannot be written"),
    (["-m", "seed=1,2", "trainer=ddp_sim"], "would each rerun the whole sweep"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "message"), CLI_CASES, ids=lambda v: str(v))
def test_cli_prints_one_line_and_starts_no_run(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    (tmp_path / "a_file").write_text("")
    result = run_train(tmp_path, *overrides)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        next(line for line in result.stderr.splitlines() if line.startswith("Error:"))
    ]
    assert message in result.stderr
    assert not list(tmp_path.glob("logs/*runs/*"))  # no run directory, complete or not


def test_schemas_are_in_the_config_store_and_follow_lightning() -> None:
    import dataclasses
    import inspect

    import lightning as L
    from hydra.core.config_store import ConfigStore

    from {{ cookiecutter.package_name }}.schemas import TrainerSchema, register_schemas

    register_schemas()
    stored = set(ConfigStore.instance().list("schema"))
    assert {"train.yaml", "trainer.yaml", "data.yaml", "model.yaml"} <= stored
    arguments = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    assert arguments <= {field.name for field in dataclasses.fields(TrainerSchema)}


def test_ddp_that_starts_processes_is_refused_inside_a_local_multirun() -> None:
    with pytest.raises(ConfigError, match="would each rerun the whole sweep"):
        check_before_start(["trainer=ddp_sim", "seed=1,2"], multirun=True)
    check_before_start(["trainer=ddp_sim"])  # a single run starts its processes itself
    # On SLURM, srun starts every process of each job and Lightning starts none.
    check_before_start(["trainer=ddp_sim", "hydra/launcher=slurm", "seed=1,2"], multirun=True)
