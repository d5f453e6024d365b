"""Searches that outlive their processes and span several: a sweep killed with SIGKILL again and
again until its trials are done, and two sweeps at once on one study in a PostgreSQL server."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from {{ cookiecutter.package_name }}.search.sweeper import OptunaSweeper

from .conftest import PROJECT_ROOT, QUICK
from .test_search import build_sweeper, search_config
from .test_search_runs import load_study, overrides_of, sweep_dir, trial_dirs

pytestmark = pytest.mark.slow

# Lost after 2 s without a heartbeat; checkpoints, so that a retry resumes from last.ckpt.
SEARCH = ("hparams_search=regression_optuna", *QUICK, "callbacks=model_checkpoint")
SEARCH += ("trainer.max_epochs=2", "test=false", "hydra.sweeper.heartbeat_interval=1")
SEARCH += ("hydra.sweeper.grace_period=2", "hydra.sweeper.max_retry=5")
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
retried = RetryHeartbeatStaleTrialCallback.retry_history  # the lost trials a trial runs again
PID = re.compile(r"Trial runs in process (\d+)")  # each job's first line in its train.log


def start_search(cwd: Path, *overrides: str) -> subprocess.Popen:
    """`python train.py -m <SEARCH> <overrides>` from cwd; its console goes to cwd/console.txt."""
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "-m", *SEARCH, *overrides]
    with (cwd / "console.txt").open("a") as console:
        return subprocess.Popen(command, cwd=cwd, stdout=console, stderr=subprocess.STDOUT)


def trials(cwd: Path) -> list[optuna.trial.FrozenTrial]:
    """The trials so far, read while a sweep may be creating the study (left to it)."""
    if not (database := sweep_dir(cwd) / "study.db").is_file():
        return []
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{database}", skip_table_creation=True)
        return optuna.load_study(study_name="regression_optuna", storage=storage).trials
    except (KeyError, RuntimeError, sqlalchemy.exc.SQLAlchemyError):  # not created yet
        return []


def wait_for_new_trial(cwd: Path, sweep: subprocess.Popen, before: int) -> None:
    """Until the sweep runs a trial numbered `before` or later (or ends)."""
    while sweep.poll() is None:
        if any(t.number >= before and t.state == TrialState.RUNNING for t in trials(cwd)):
            return
        time.sleep(0.2)


def trial_seconds(cwd: Path) -> float:
    """How long the completed trials took, on average (1 s before any)."""
    took = [t.duration.total_seconds() for t in trials(cwd) if t.duration and t.state in DONE]
    return sum(took) / len(took) if took else 1.0


def test_a_search_killed_three_times_ends_with_every_trial_done(tmp_path: Path) -> None:
    requested, kills, lost = 8, 0, set()
    moments = random.Random(0)
    while missing := requested - sum(t.state in DONE for t in trials(tmp_path)):
        # The same command, for the trials still missing (a rerun runs n_trials more).
        sweep = start_search(tmp_path, f"hydra.sweeper.n_trials={missing}")
        if kills < 3:
            # A random moment of its first trial (of a trial's length, as trials so far took).
            wait_for_new_trial(tmp_path, sweep, len(trials(tmp_path)))
            time.sleep(moments.uniform(0.0, 1.0) * trial_seconds(tmp_path))
            if sweep.poll() is None:
                os.kill(sweep.pid, signal.SIGKILL)
                kills += 1
            sweep.wait()
            lost |= {t.number for t in trials(tmp_path) if t.state == TrialState.RUNNING}
        else:
            assert sweep.wait(timeout=600) == 0, (tmp_path / "console.txt").read_text()
    study = load_study(tmp_path).trials
    assert kills == 3 and lost
    states = [t.state for t in study]
    assert sum(s in DONE for s in states) == requested and TrialState.RUNNING not in states
    # Each lost trial failed and ran again; nothing else failed.
    assert {t.number for t in study if t.state == TrialState.FAIL} == lost
    replaced = {retried(t)[-1]: t for t in study if retried(t)}
    assert set(replaced) == lost
    # A retry keeps every parameter its lost trial had; a trial killed before it had them all
    # (they are drawn one by one) has the rest drawn anew.
    pairs = {n: (study[n].params, replaced[n].params) for n in lost}
    assert all(kept.items() <= params.items() for kept, params in pairs.values()), pairs
    # One folder per trial that started, each written by one process; metrics = the value.
    folders: dict[int, Path] = {}
    unnamed = 0  # folders of lost trials, killed while Hydra was still writing them
    for folder in trial_dirs(tmp_path):
        if not (folder / ".hydra" / "overrides.yaml").is_file():
            unnamed += 1
            continue
        [number] = [int(o.split("=")[1]) for o in overrides_of(folder) if o.startswith("++trial=")]
        assert number not in folders, f"trial {number} ran twice"
        folders[number] = folder
        log = folder / "train.log"
        pids = set(PID.findall(log.read_text())) if log.is_file() else set()
        # A lost trial may have been killed before its job's first line.
        assert len(pids) == 1 or (number in lost and not pids), (number, pids)
    assert unnamed <= len(lost - set(folders))  # a lost trial has one folder at most
    # A retry resumes from the last.ckpt its lost trial left (where it continues checkpointing).
    for retry in replaced.values():
        left = [folders[n] / "checkpoints" / "last.ckpt" for n in retried(retry) if n in folders]
        resumed = [o for o in overrides_of(folders[retry.number]) if o.startswith("ckpt_path=")]
        assert resumed == [f"ckpt_path={p.resolve()}" for p in left if p.is_file()][-1:]
    for trial in study:
        if trial.state == TrialState.COMPLETE:
            metrics = json.loads((folders[trial.number] / "metrics.json").read_text())
            assert metrics["val/loss_best"] == pytest.approx(trial.value)  # the sweep's objective
    summary = (sweep_dir(tmp_path) / "summary.md").read_text()
    counts = ", ".join(f"{states.count(s)} {s.name}" for s in sorted(set(states), key=str))
    assert f"trials: {len(study)} ({counts})" in summary
    for number, retry in replaced.items():
        assert f"retried as #{retry.number}" in summary and f"retry of #{number}" in summary


PG = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")  # libpq's, pg_virtualenv's
URL = "postgresql+psycopg2://{PGUSER}:{PGPASSWORD}@{PGHOST}:{PGPORT}/{PGDATABASE}"


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL server's PG* variables: the server they name (CI's service), else a
    throw-away server of pg_virtualenv (Debian's postgresql package)."""
    if all(os.environ.get(name) for name in PG):
        yield {name: os.environ[name] for name in PG}
        return
    if shutil.which("pg_virtualenv") is None:
        pytest.skip(
            "no PostgreSQL server: install PostgreSQL (Debian: apt-get install postgresql) or"
            " name one with PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE"
        )
    # The server's variables, then the server until stdin closes. As root pg_virtualenv
    # takes the machine's one "regress" instance; as postgres, one of its own in a temp folder.
    command = ["pg_virtualenv", "sh", "-c", "env; cat > /dev/null"]
    command = ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None
    try:
        variables: dict[str, str] = {}
        for line in server.stdout:
            name, _, value = line.rstrip("\n").partition("=")
            if name in PG:
                variables[name] = value
            if len(variables) == len(PG):
                break
        assert set(variables) == set(PG), f"pg_virtualenv gave no server: {variables}"
        yield variables
    finally:
        server.stdin.close()  # the server is dropped
        server.wait(timeout=120)


def test_sweeps_that_open_one_new_database_at_once_all_get_their_storage(
    postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Optuna makes its tables in several statements; sweeps started together race on each.
    admin = sqlalchemy.create_engine(URL.format(**postgres), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text("DROP DATABASE IF EXISTS racing"))
        connection.execute(sqlalchemy.text("CREATE DATABASE racing"))
    admin.dispose()
    for name, value in (postgres | {"PGDATABASE": "racing"}).items():
        monkeypatch.setenv(name, value)
    url = re.sub(r"{(\w+)}", r"${oc.env:\1}", URL)
    cfg = search_config(f"hydra.sweeper.storage='{url}'")
    sweepers = [build_sweeper(cfg) for _ in range(4)]
    start = threading.Barrier(len(sweepers))

    def open_storage(sweeper: OptunaSweeper) -> optuna.storages.BaseStorage:
        sweeper.config = cfg  # as Hydra's setup() gives it
        start.wait()
        return sweeper.open_storage()

    with ThreadPoolExecutor(len(sweepers)) as pool:
        storages = list(pool.map(open_storage, sweepers))
    assert all(isinstance(s, optuna.storages.RDBStorage) for s in storages)
    assert storages[0].get_all_studies() == []  # the tables are whole


def test_two_searches_at_once_share_one_study_in_postgresql(
    tmp_path: Path, postgres: dict[str, str]
) -> None:
    # The URL as a shared study's config gives it: every part, the password above all, from the
    # environment, so that no saved config, log or summary holds the password.
    url = re.sub(r"{(\w+)}", r"${oc.env:\1}", URL)
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "-m", *QUICK]
    command += ["hparams_search=regression_optuna", f"hydra.sweeper.storage='{url}'"]
    console, env = tmp_path / "console.txt", os.environ | postgres
    with console.open("w") as out:
        searches = [
            subprocess.Popen([*command, "hydra.sweeper.n_trials=2"], cwd=tmp_path, env=env,
                             stdout=out, stderr=out)
            for _ in range(2)
        ]  # fmt: skip
        assert [search.wait(timeout=600) for search in searches] == [0, 0], console.read_text()
    study = optuna.load_study(study_name="regression_optuna", storage=URL.format(**postgres))
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    runs = {}
    for folder in trial_dirs(tmp_path):
        [number] = [o for o in overrides_of(folder) if o.startswith("++trial=")]
        runs[number] = PID.findall((folder / "train.log").read_text())
    assert sorted(runs) == [f"++trial={n}" for n in range(4)]  # each trial run once
    assert len({pid for pids in runs.values() for pid in pids}) == 2  # by both searches
    summary = (sweep_dir(tmp_path) / "summary.md").read_text()
    assert "trials: 4 (4 COMPLETE)" in summary
    password = postgres["PGPASSWORD"]
    assert password not in console.read_text()
    for path in (tmp_path / "logs").rglob("*"):
        assert not path.is_file() or password.encode() not in path.read_bytes(), path
