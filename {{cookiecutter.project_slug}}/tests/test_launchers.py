"""Sweeps through the submitit launchers: SLURM configs compose, local jobs really run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.multirun import check_multirun

from .conftest import CONFIG_DIR, PROJECT_ROOT
from .test_errors import assert_one_line_errors

ON_SLURM = bool(shutil.which("sbatch") and shutil.which("srun"))  # a SLURM login node


@pytest.mark.parametrize(
    ("launcher", "target"),
    [("slurm", "SlurmLauncher"), ("local", "LocalLauncher"), ("submitit_local", "LocalLauncher")],
)
def test_launcher_configs_compose_and_build(launcher: str, target: str) -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(
            config_name="train", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True
        )
    assert cfg.hydra.launcher._target_.endswith(target)
    built = instantiate(cfg.hydra.launcher)
    assert type(built).__name__ == target


def test_slurm_launcher_requeues_and_warns_before_the_time_limit() -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(
            config_name="train", overrides=["hydra/launcher=slurm"], return_hydra_config=True
        )
    launcher = cfg.hydra.launcher
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0
    assert launcher.tasks_per_node == launcher.gpus_per_node  # one task per GPU for Lightning


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_multirun(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "train.py"),
            "-m",
            "hydra/launcher=submitit_local",
            "seed=1,2",
            "debug=limit",
            "trainer.max_epochs=1",
            "callbacks=none",
            "logger=none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    [sweep] = (tmp_path / "logs" / "debug" / "multiruns").iterdir()  # debug=limit's folder
    job_dirs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    assert [p.name for p in job_dirs] == ["0", "1"]
    seeds = []
    for job_dir in job_dirs:
        assert json.loads((job_dir / "metrics.json").read_text())["test/loss"] > 0
        seeds.append(int((job_dir / ".hydra" / "overrides.yaml").read_text().split("seed=")[1][0]))
    assert seeds == [1, 2]
    assert list((sweep / ".submitit").iterdir())  # the jobs went through submitit
    # Each job recorded its result in its own folder, in its own process; the summary read them.
    assert "jobs: 2 (2 COMPLETED)" in (sweep / "summary.md").read_text()


@pytest.mark.parametrize("trainer", ["trainer=ddp_sim", "trainer=multinode"])
def test_a_multirun_of_ddp_jobs_may_run_on_slurm(trainer: str) -> None:
    """Locally such a multirun is refused (tests/test_multirun.py); on SLURM srun starts every
    process of each job, so the command line is not run again."""
    with initialize_config_dir(config_dir=CONFIG_DIR):
        overrides = [trainer, "trainer.accelerator=cpu", "hydra/launcher=slurm"]
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    if ON_SLURM:
        check_multirun(cfg)
    else:  # refused for the missing SLURM alone, which is checked after the extra processes
        with pytest.raises(ConfigError, match="this machine has no sbatch or srun"):
            check_multirun(cfg)


@pytest.mark.slow
@pytest.mark.skipif(ON_SLURM, reason="SLURM is installed here")
def test_slurm_where_it_is_missing_gets_one_line(tmp_path: Path) -> None:
    catalogue = [
        (["-m", "hydra/launcher=slurm", "seed=1,2"], "hydra/launcher=slurm submits each job"),
        (["-m", "hydra/launcher=submitit_slurm"], "or leave out hydra/launcher=submitit_slurm"),
    ]
    assert_one_line_errors(catalogue, tmp_path)
