"""Trainer options that need no second process: precision, torch.compile, accumulation, ranks."""

import pytest
from hydra import compose, initialize_config_dir

from {{ cookiecutter.package_name }}.config import instantiate, on_rank_zero
from {{ cookiecutter.package_name }}.training import train

from .conftest import CONFIG_DIR, running_job


def test_bf16_mixed_precision_trains_on_the_cpu(make_config) -> None:
    metrics = train(make_config("trainer=cpu", "trainer.precision=bf16-mixed", "debug=fdr"))
    assert "test/loss" in metrics


def test_float16_on_the_cpu_falls_back_to_bfloat16(make_config) -> None:
    with pytest.warns(UserWarning, match="Using `precision='bf16-mixed'` instead"):
        trainer = instantiate(make_config("trainer=cpu", "trainer.precision=16-mixed").trainer)
    assert trainer.precision == "bf16-mixed"


def test_compiled_network_trains_and_keeps_checkpoint_names(make_config) -> None:
    cfg = make_config("compile=true", "model=mlp", "debug=fdr")
    assert "test/loss" in train(cfg)
    model = instantiate(cfg.model, compile=True)
    model.build("regression", (8,), 1)
    assert all("_orig_mod" not in key for key in model.state_dict())


def test_accumulation_and_clipping_are_settable(make_config) -> None:
    cfg = make_config("trainer.accumulate_grad_batches=4", "trainer.gradient_clip_val=0.5")
    trainer = instantiate(cfg.trainer, logger=False)
    assert trainer.accumulate_grad_batches == 4 and trainer.gradient_clip_val == 0.5


@pytest.mark.parametrize(
    ("env", "rank_zero"),
    [({}, True), ({"LOCAL_RANK": "0"}, True), ({"LOCAL_RANK": "1"}, False), ({"RANK": "3"}, False)],
)
def test_only_rank_zero_writes_a_run_folder(monkeypatch, env: dict, rank_zero: bool) -> None:
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert on_rank_zero("yes", "no") == ("yes" if rank_zero else "no")
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", return_hydra_config=True)
    with running_job(cfg):
        hydra = cfg.hydra
        assert (hydra.run.dir == ".") is not rank_zero  # the others run in place...
        assert (hydra.output_subdir is None) is not rank_zero  # ...and save no config
        assert ("file" in hydra.job_logging.root.handlers) is rank_zero  # nor a log
