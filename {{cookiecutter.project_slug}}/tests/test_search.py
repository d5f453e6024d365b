"""The Optuna search without training: the search space from Hydra's override grammar, the
samplers, the pruning callback's trial, the configs, and real sweeps of a small Hydra app (the
project's sweeper, Hydra's launchers, a study in SQLite) in subprocesses of a few seconds."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.search.pruning import OptunaPruning
from {{ cookiecutter.package_name }}.search.sweeper import OptunaSweeper, grid, search_space

from .conftest import CONFIG_DIR, PROJECT_ROOT, QUICK, error_line, run_script, running_job
from .test_cli import HEAVY, imported

SAMPLERS = sorted(p.stem for p in (PROJECT_ROOT / "conf/hydra/sweeper/sampler").glob("*.yaml"))


def test_hydra_sweeps_become_optuna_distributions() -> None:
    space, fixed = search_space(
        [
            "lr=tag(log, interval(0.0001, 0.5))",
            "dropout=interval(0, 0.3)",
            "batch=choice(16, 32, 64)",
            "layers=range(1, 7, 2)",
            "down=range(10, 0, -5)",
            "scale=range(0.1, 0.4, 0.1)",
            "model=linear,mlp",
            "trainer=cpu",
            "~callbacks.early_stopping",
        ]
    )
    assert space == {
        "lr": FloatDistribution(0.0001, 0.5, log=True),
        "dropout": FloatDistribution(0.0, 0.3),
        "batch": CategoricalDistribution([16, 32, 64]),
        "layers": IntDistribution(1, 5, step=2),  # 7 left out, as Python's range does
        "down": IntDistribution(5, 10, step=5),
        "scale": CategoricalDistribution([0.1, 0.2, 0.3]),
        "model": CategoricalDistribution(["linear", "mlp"]),
    }
    assert fixed == ["trainer=cpu", "~callbacks.early_stopping"]


def test_the_command_line_fixes_or_replaces_a_searched_parameter() -> None:
    params = ["lr=tag(log, interval(0.0001, 0.5))", "batch=choice(16, 32)"]
    space, fixed = search_space([*params, "lr=0.1", "batch=8,64"])
    assert space == {"batch": CategoricalDistribution([8, 64])}
    assert fixed == ["lr=0.1"]


def test_the_grid_is_every_listed_value() -> None:
    space, _ = search_space(["batch=choice(16, 32)", "layers=range(1, 4)"])
    assert grid(space) == {"batch": [16, 32], "layers": [1, 2, 3]}
    space, _ = search_space(["lr=interval(0.1, 0.5)"])
    with pytest.raises(ConfigError, match="lr: the grid sampler needs a list of values"):
        grid(space)


def search_config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR):
        return compose(
            config_name="train",
            overrides=["hparams_search=regression_optuna", *overrides],
            return_hydra_config=True,
        )


def build_sweeper(cfg: DictConfig) -> OptunaSweeper:
    """The sweeper as Hydra builds it from hydra.sweeper (sampler left a config)."""
    sweeper = instantiate(cfg.hydra.sweeper, _recursive_=False)
    assert isinstance(sweeper, OptunaSweeper)
    return sweeper


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_option_builds(name: str) -> None:
    sweeper = build_sweeper(search_config(f"hydra/sweeper/sampler={name}"))
    space, _ = search_space(["x=choice(1, 2, 3)", "y=range(0, 2)"])
    sampler, n_trials = sweeper.build_sampler(space)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    # The grid's points are the search space's 3 x 2 combinations: no more trials than those.
    assert n_trials == (6 if name == "grid" else 20)
    assert sweeper.study_direction == optuna.study.StudyDirection.MINIMIZE


def test_the_search_settings_are_checked_before_any_trial() -> None:
    with pytest.raises(ConfigError, match="hydra.sweeper.direction=down: use min or max"):
        build_sweeper(search_config("monitor.mode=down"))
    with pytest.raises(ConfigError, match="hydra.sweeper.n_trials=0: use a whole number >= 1"):
        build_sweeper(search_config("hydra.sweeper.n_trials=0"))
    with pytest.raises(ConfigError, match="max_failure_rate=1.5: use a share from 0.0 to 1.0"):
        build_sweeper(search_config("hydra.sweeper.max_failure_rate=1.5"))
    maximize = build_sweeper(search_config("monitor.mode=max")).study_direction
    assert maximize == optuna.study.StudyDirection.MAXIMIZE


def test_a_password_written_into_the_storage_url_is_refused() -> None:
    # The saved configs keep hydra.sweeper.storage as written: ${oc.env:...} is the way.
    url = "postgresql+psycopg2://optuna:s3cret@dbhost/optuna"
    sweeper = build_sweeper(cfg := search_config(f"hydra.sweeper.storage={url}"))
    sweeper.config = cfg
    with pytest.raises(ConfigError, match=r"holds a password.*:\$\{oc.env:OPTUNA_DB_PASSWORD\}@"):
        sweeper.open_storage()


def test_each_search_composes_with_its_study_under_logs_sweeps() -> None:
    for path in sorted((PROJECT_ROOT / "conf" / "hparams_search").glob("*.yaml")):
        cfg = search_config(f"hparams_search={path.stem}")
        sweeper = cfg.hydra.sweeper
        assert sweeper.study_name == path.stem
        assert sweeper.storage == f"sqlite:///{cfg.paths.log_dir}/sweeps/{path.stem}/study.db"
        assert sweeper.direction == cfg.monitor.mode
        assert cfg.callbacks.optuna_pruning.monitor == cfg.optimized_metric == cfg.monitor.metric


def pruning_callback(cfg: DictConfig) -> OptunaPruning:
    node = cfg.callbacks.optuna_pruning
    return OptunaPruning(trial=node.trial, monitor=node.monitor, pruner=node.pruner)


def test_the_pruning_callback_reports_to_its_running_trial(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="regression_optuna", storage=storage)
    done, running = study.ask(), study.ask()
    study.tell(done, 1.0)
    cfg = search_config(f"hydra.sweeper.storage={storage}", f"++trial={running.number}")
    with running_job(cfg):
        callback = pruning_callback(cfg)
        callback.check_pruned()  # nothing reported yet: no pruning
        with pytest.raises(ConfigError, match="trial=0 is not a running trial"):
            pruning_callback(search_config(f"hydra.sweeper.storage={storage}", "++trial=0"))
    with pytest.raises(ConfigError, match=r"needs the trial number its sweeper passes"):
        pruning_callback(cfg)  # outside a job of the search


def test_the_searches_are_listed_and_compose_without_importing_optuna(tmp_path: Path) -> None:
    page = run_script(tmp_path, "train.py", "--help").stdout
    searches = sorted(p.stem for p in (PROJECT_ROOT / "conf" / "hparams_search").glob("*.yaml"))
    assert f"hparams_search: {', '.join(searches)}" in page
    args = (str(PROJECT_ROOT / "train.py"), "hparams_search=digits_optuna", "--cfg", "job")
    assert imported(*args, cwd=tmp_path) & (HEAVY | {"optuna"}) == set()
    assert not (tmp_path / "logs").exists()


def test_a_search_without_optuna_installed_is_one_line(tmp_path: Path) -> None:
    # An `optuna` that cannot be imported, as on a machine without the optional dependencies.
    (blocker := tmp_path / "missing").mkdir()
    (blocker / "optuna.py").write_text("raise ModuleNotFoundError('no optuna', name='optuna')\n")
    overrides = ("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1")
    result = run_script(tmp_path, "train.py", *overrides, PYTHONPATH=str(blocker))
    assert error_line(result) == (
        "Error: hydra/sweeper=optuna needs the Python package 'optuna', which is not installed;"
        " install the optional dependencies in pyproject.toml that list it"
    )
    assert not (tmp_path / "logs" / "multiruns").exists()


@pytest.mark.slow  # a training run
def test_the_sweeper_runs_without_a_search_config(tmp_path: Path) -> None:
    overrides = ("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1", *QUICK)
    result = run_script(tmp_path, "train.py", *overrides)
    assert result.returncode == 0, result.stderr
    [summary] = (tmp_path / "logs" / "multiruns").glob("*/summary.md")
    assert "1 COMPLETED" in summary.read_text()


# A small Hydra app with the project's sweeper: each job returns (x - 1)^2 after `sleep`
# seconds, fails for x > 3, returns NaN for x < -4.5 and is pruned for -4.5 <= x < -3.
APP = """
import json, math, os, time
from pathlib import Path

import hydra
import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins

from {{ cookiecutter.package_name }}.search.sweeper import OptunaSweeper

Plugins.instance().register(OptunaSweeper)


@hydra.main(config_path="conf", config_name="app", version_base=None)
def main(cfg) -> float:
    start = time.time()
    (Path(HydraConfig.get().runtime.output_dir) / "pid").write_text(str(os.getpid()))
    time.sleep(cfg.sleep)
    record = {"pid": os.getpid(), "start": start, "end": time.time(), "trial": cfg.trial}
    (Path(HydraConfig.get().runtime.output_dir) / "record.json").write_text(json.dumps(record))
    if cfg.x > 3:
        raise ValueError(f"x={cfg.x} is too large")
    if cfg.x < -4.5:
        return math.nan
    if cfg.x < -3:
        raise optuna.TrialPruned(f"x={cfg.x} lags")
    return (cfg.x - 1) ** 2


main()
"""

APP_CONFIG = """
defaults:
  - override hydra/sweeper: optuna
  - override hydra/sweeper/sampler: random
  - _self_
x: 0.0
sleep: 0.0
trial: null
hydra:
  searchpath: [file://PROJECT_CONF]
  sweep:
    dir: sweep
    subdir: ${hydra.job.num}_${now:%H-%M-%S-%f}
  sweeper:
    study_name: quadratic
    storage: sqlite:///sweep/study.db
    n_trials: 4
    max_failure_rate: 1.0
    sampler:
      seed: 0
    params:
      x: interval(-2.0, 3.0)
"""


def app_command(cwd: Path, *overrides: str) -> list[str]:
    """The command that sweeps the app in `cwd` (written there)."""
    (cwd / "conf").mkdir(exist_ok=True)
    conf = APP_CONFIG.replace("PROJECT_CONF", str(PROJECT_ROOT / "conf"))
    (cwd / "conf" / "app.yaml").write_text(conf)
    (cwd / "app.py").write_text(textwrap.dedent(APP))
    return [sys.executable, "app.py", "-m", *overrides]


def sweep_app(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        app_command(cwd, *overrides),
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | {"HYDRA_FULL_ERROR": "1"},
        timeout=300,
    )


def app_study(cwd: Path) -> optuna.Study:
    return optuna.load_study(study_name="quadratic", storage=f"sqlite:///{cwd}/sweep/study.db")


def app_jobs(cwd: Path) -> list[dict]:
    """Each job's record with its overrides, in the order the jobs started."""
    folders = [p for p in (cwd / "sweep").iterdir() if (p / "record.json").is_file()]
    jobs = [
        json.loads((p / "record.json").read_text())
        | {"overrides": yaml.safe_load((p / ".hydra" / "overrides.yaml").read_text())}
        for p in folders
    ]
    return sorted(jobs, key=lambda job: job["start"])


def test_a_rerun_continues_the_study_with_n_trials_more(tmp_path: Path) -> None:
    for _ in range(2):
        result = sweep_app(tmp_path, "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler.seed=null")
        assert result.returncode == 0, result.stderr
    trials = app_study(tmp_path).trials
    assert [t.number for t in trials] == list(range(6))
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert all(t.value == pytest.approx((t.params["x"] - 1) ** 2) for t in trials)
    jobs = app_jobs(tmp_path)
    assert [job["trial"] for job in jobs] == list(range(6))  # ++trial=<number> for each job
    assert [job["overrides"][-1] for job in jobs] == [f"++trial={i}" for i in range(6)]
    best = min(trials, key=lambda t: t.value or math.inf)
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert results == {"name": "optuna", "best_params": best.params, "best_value": best.value}


def test_failed_nan_and_pruned_trials_are_recorded_and_the_grid_goes_on(tmp_path: Path) -> None:
    # The grid sampler runs each of the 5 values once (n_trials capped from 20), whatever fails.
    result = sweep_app(
        tmp_path, "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=20", "x=5,0.5,-5,-4,2"
    )
    assert result.returncode == 0, result.stderr
    states = {t.params["x"]: t.state.name for t in app_study(tmp_path).trials}
    assert states == {5: "FAIL", 0.5: "COMPLETE", -5: "FAIL", -4: "PRUNED", 2: "COMPLETE"}
    assert "ValueError: x=5 is too large" in result.stderr  # the trial's error line


def test_too_many_failures_in_a_batch_stop_the_sweep(tmp_path: Path) -> None:
    result = sweep_app(
        tmp_path, "hydra.sweeper.max_failure_rate=0.0", "hydra.sweeper.n_jobs=2", "x=5,6"
    )
    assert result.returncode == 1
    stopped = "2 of 2 trials of a batch failed, more than hydra.sweeper.max_failure_rate=0.0"
    assert f"{stopped} allows; the first: ValueError: x=" in result.stderr
    assert [t.state.name for t in app_study(tmp_path).trials] == ["FAIL", "FAIL"]  # no more


def test_joblib_runs_a_batch_of_trials_side_by_side(tmp_path: Path) -> None:
    result = sweep_app(
        tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=3", "sleep=1.5", "x=0.25,0.5,0.75,1.25",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trials = app_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    first, second, third = app_jobs(tmp_path)
    assert first["pid"] != second["pid"]  # two worker processes
    assert first["start"] < second["end"] and second["start"] < first["end"]  # side by side
    assert third["start"] >= max(first["end"], second["end"])  # the next batch, after both


def started_jobs(cwd: Path) -> list[Path]:
    """The folders of the app's jobs that have started, each with its process id."""
    return sorted((cwd / "sweep").glob("*/pid")) if (cwd / "sweep").is_dir() else []


def wait_for(condition: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_the_trials_of_a_dead_joblib_worker_run_again(tmp_path: Path) -> None:
    command = app_command(
        tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=4", "sleep=2", "x=0.25,0.5,0.75,1.25",
    )  # fmt: skip
    sweep = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    wait_for(lambda: started_jobs(tmp_path))
    os.kill(int(started_jobs(tmp_path)[0].read_text()), signal.SIGKILL)
    stdout, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, stdout
    assert "A worker died, its batch's trials run again: TerminatedWorkerError: " in stdout
    first, second, *retries = app_study(tmp_path).trials
    assert (first.state.name, second.state.name) == ("FAIL", "FAIL")  # the batch of the dead one
    assert [t.state.name for t in retries] == ["COMPLETE", "COMPLETE"]
    assert sorted(t.params["x"] for t in retries) == sorted((first.params["x"], second.params["x"]))
    ran = sorted(job["trial"] for job in app_jobs(tmp_path))
    assert ran[-2:] == [2, 3] and len(set(ran)) == len(ran)  # each retry ran once
