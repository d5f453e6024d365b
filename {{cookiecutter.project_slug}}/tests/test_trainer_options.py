"""Trainer options that need no second process: precision, torch.compile, accumulation, ranks."""

import pytest
from hydra.utils import instantiate

from {{ cookiecutter.package_name }}.cli import is_secondary_process, secondary_process_overrides
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.preflight import check_precision
from {{ cookiecutter.package_name }}.training import train


def test_bf16_mixed_precision_trains_on_the_cpu(make_config) -> None:
    metrics = train(make_config("trainer=cpu", "trainer.precision=bf16-mixed", "debug=fdr"))
    assert "test/loss" in metrics


def test_float16_on_the_cpu_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="use trainer.precision=bf16-mixed"):
        check_precision("cpu", "16-mixed")
    check_precision("gpu", "16-mixed")


def test_compiled_network_trains_and_keeps_checkpoint_names(make_config) -> None:
    cfg = make_config("compile=true", "model=mlp", "debug=fdr")
    assert "test/loss" in train(cfg)
    model = instantiate(cfg.model)
    model.net.compile()
    assert all("_orig_mod" not in key for key in model.state_dict())


def test_accumulation_and_clipping_are_settable(make_config) -> None:
    cfg = make_config("trainer.accumulate_grad_batches=4", "trainer.gradient_clip_val=0.5")
    trainer = instantiate(cfg.trainer, logger=False)
    assert trainer.accumulate_grad_batches == 4 and trainer.gradient_clip_val == 0.5


@pytest.mark.parametrize(
    ("env", "secondary"),
    [({}, False), ({"LOCAL_RANK": "0"}, False), ({"LOCAL_RANK": "1"}, True), ({"RANK": "3"}, True)],
)
def test_secondary_processes_are_recognised(monkeypatch, env: dict, secondary: bool) -> None:
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert is_secondary_process() is secondary


def test_other_nodes_create_no_run_directory() -> None:
    assert "hydra.run.dir=." in secondary_process_overrides(["trainer=multinode"])
    lightning_child = secondary_process_overrides(["hydra.run.dir=logs/runs/x"])
    assert lightning_child == ["hydra/job_logging=stdout"]  # keeps rank 0's directory
