"""logger=wandb: online or offline as the login and the network allow, read back from W&B's own
records."""

import csv
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.loggers.wandb_logger import wandb_mode
from {{ cookiecutter.package_name }}.tools.compare import main as compare_main

from .conftest import (
    PROJECT_ROOT,
    error_line,
)
from .test_tracking import assert_png, run_train
from .test_tracking import offline_env as tracking_env
from .wandb_records import records


@contextmanager
def refusing_server() -> Iterator[str]:
    """A server on the loopback that answers every request as W&B does a key it refuses."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors": [{"message": "user is not logged in"}]}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_wandb_mode_follows_the_environment_and_the_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What needs no server; the answers of servers are tested from the command line below
    # (wandb reads WANDB_BASE_URL once per process).
    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # refused at once: no server
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))
    started = time.monotonic()
    assert wandb_mode() == "offline"  # no key: offline, without asking any server
    assert time.monotonic() - started < 5 and "did not answer" not in caplog.text
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode() == "offline"  # WANDB_MODE always wins
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "abc")
    with pytest.raises(ConfigError, match="W&B does not accept the API key .*40"):
        wandb_mode()


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No W&B credentials anywhere and no reachable W&B server: what a fresh laptop offline has."""
    env = {k: v for k, v in tracking_env(tmp_path).items() if not k.startswith("WANDB_")}
    # Port 9 (discard) on the loopback: any attempt to reach the server fails at once.
    return env | {"WANDB_BASE_URL": "http://127.0.0.1:9"} | extra


def wandb_runs(root: Path) -> list[list]:
    """The records of each offline W&B run under root, in path order."""
    return [list(records(f)) for f in sorted(root.rglob("offline-run-*/*.wandb"))]


def items(entries) -> dict:
    """Config or history items as a dict; W&B stores a key either flat or as a nested path."""
    return {e.key or "/".join(e.nested_key): json.loads(e.value_json) for e in entries}


def first(run_records: list, kind: str):
    return next(getattr(r, kind) for r in run_records if r.WhichOneof("record_type") == kind)


@pytest.mark.slow
def test_wandb_runs_offline_without_login_or_network(tmp_path: Path) -> None:
    overrides = ("logger=wandb", "tags=[smoke]", "trainer.max_epochs=4")
    result = run_train(tmp_path, offline_env(tmp_path), *overrides)
    [sync_line] = [line for line in result.stdout.splitlines() if "upload this run later" in line]
    sync_dir = Path(sync_line.split("wandb sync ", 1)[1])
    assert sync_dir.name.startswith("offline-run-") and sync_dir.is_dir()
    [run] = wandb_runs(tmp_path)
    assert first(run, "exit").exit_code == 0
    assert list(first(run, "run").tags) == ["smoke"]
    assert first(run, "run").display_name == "trainer.max_epochs=4"  # named after the overrides
    config = items(first(run, "config").update)
    assert config["run_info"]["params_total"] == 9
    assert "git_commit" in config["run_info"]
    assert "tags" not in config  # they are the run's tags
    assert config["model"]["optimizer"]["lr"] == 0.1
    history = [items(r.history.item) for r in run if r.WhichOneof("record_type") == "history"]
    val_loss = [row["val/loss"] for row in history if "val/loss" in row]
    [csv_log] = (tmp_path / "logs").rglob("csv/metrics.csv")  # written beside every logger
    with csv_log.open() as file:
        epochs = {row["epoch"] for row in csv.DictReader(file) if row["val/loss"]}
    assert len(val_loss) == len(epochs) > 1  # one per epoch (early stopping may end it early)
    assert val_loss[-1] < val_loss[0]
    assert any("test/r2" in row for row in history)
    [best] = [row["val/loss_best"] for row in history if "val/loss_best" in row]
    assert best == pytest.approx(min(val_loss))  # the best checkpoint's score, logged once


@pytest.mark.slow
def test_wandb_run_resumed_from_its_checkpoint_continues_the_same_run(tmp_path: Path) -> None:
    # The checkpoint keeps the run's id: `ckpt_path=last` continues that run, with no id typed.
    # Offline, the second part is a second offline run with that id, its steps going on from
    # the first's; `wandb sync` joins them.
    run_train(tmp_path, offline_env(tmp_path), "logger=wandb", "trainer.max_epochs=2")
    resumed = ("logger=wandb", "ckpt_path=last", "trainer.max_epochs=4")
    run_train(tmp_path, offline_env(tmp_path), *resumed)
    runs = wandb_runs(tmp_path / "logs" / "runs")
    [run_id] = {first(run, "run").run_id for run in runs}
    assert len(runs) == 2 and first(runs[1], "run").resume
    assert [first(run, "exit").exit_code for run in runs] == [0, 0]

    def history(run: list, key: str) -> list[int]:
        rows = [items(r.history.item) for r in run if r.WhichOneof("record_type") == "history"]
        return sorted({int(row[key]) for row in rows if "val/loss" in row})

    assert history(runs[0], "epoch") == [0, 1] and history(runs[1], "epoch") == [2, 3]
    steps = [history(run, "trainer/global_step") for run in runs]
    assert steps[0][-1] < steps[1][0]  # the x axis goes on where the first part stopped


@contextmanager
def silent_server() -> Iterator[str]:
    """A server on the loopback that accepts connections and never answers: a network that
    has gone away, or a firewall dropping the packets."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept_all() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:  # closed
                return

    thread = threading.Thread(target=accept_all, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for connection in held:
            connection.close()


@pytest.mark.slow
def test_wandb_with_a_key_and_no_reachable_server_logs_offline_after_a_short_wait(
    tmp_path: Path,
) -> None:
    with silent_server() as url:
        env = offline_env(tmp_path, WANDB_API_KEY="k" * 40, WANDB_BASE_URL=url)
        started = time.monotonic()
        result = run_train(tmp_path, env, "logger=wandb", "trainer.max_epochs=2")
        elapsed = time.monotonic() - started
    assert f"W&B: {url} did not answer within 10 s; logging offline" in result.stdout
    assert "upload this run later with: wandb sync" in result.stdout
    [run] = wandb_runs(tmp_path)
    assert first(run, "exit").exit_code == 0
    assert elapsed < 60, f"{elapsed:.0f} s"  # the run itself takes ~15 s; wandb alone retried 100
    with silent_server() as url:  # `wandb login` wrote the key into ~/.netrc: the same
        login = tmp_path / "home" / ".netrc"
        login.write_text(f"machine {url.removeprefix('http://')}\n  password {'s' * 40}\n")
        login.chmod(0o600)
        result = run_train(tmp_path, offline_env(tmp_path, WANDB_BASE_URL=url), "logger=wandb")
    assert f"W&B: {url} did not answer within 10 s; logging offline" in result.stdout


@pytest.mark.slow
def test_a_key_wandb_refuses_is_one_line(tmp_path: Path) -> None:
    def refused(**env: str) -> str:
        command = [sys.executable, str(PROJECT_ROOT / "train.py"), "logger=wandb"]
        env = offline_env(tmp_path, **env)
        return error_line(
            subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        )

    with refusing_server() as url:
        line = refused(WANDB_API_KEY="k" * 40, WANDB_BASE_URL=url)
    assert line == (
        f"Error: W&B does not accept the API key (Failed to authenticate with {url}: user is not"
        " logged in); run `wandb login --relogin`, or unset WANDB_API_KEY to log offline"
    )
    line = refused(WANDB_API_KEY="abc")
    assert "W&B does not accept the API key (WANDB_API_KEY invalid" in line
    assert not list((tmp_path / "logs").glob("runs/*"))  # refused before the run started


@pytest.mark.slow
def test_wandb_multirun_gives_one_finished_run_per_job_in_one_group(tmp_path: Path) -> None:
    overrides = ["logger=wandb", "seed=1,2", "trainer.max_epochs=2", "test=false"]
    run_train(tmp_path, offline_env(tmp_path), "-m", *overrides)
    [sweep_dir] = (tmp_path / "logs" / "multiruns").iterdir()
    runs = wandb_runs(sweep_dir)
    assert len(runs) == 2
    assert {first(run, "run").run_group for run in runs} == {sweep_dir.name}
    assert len({first(run, "run").run_id for run in runs}) == 2
    assert [first(run, "exit").exit_code for run in runs] == [0, 0]

    # The sweep at a glance: one row per job, and one plot.
    out = tmp_path / "comparison"
    compare_main([str(sweep_dir), "--out", str(out)])
    lines = (out / "comparison.md").read_text().splitlines()
    assert lines[0].startswith("| run | overrides |") and "val/loss" in lines[0]
    assert [("seed=1" in line, "seed=2" in line) for line in lines[2:]] == [
        (True, False),
        (False, True),
    ]
    assert len((out / "comparison.csv").read_text().splitlines()) == 3
    assert_png(out / "comparison.png")


@pytest.mark.slow
def test_no_secret_reaches_any_file_the_run_writes(tmp_path: Path) -> None:
    secret = "fake-wandb-key-0123456789abcdef0123456789abcdef"
    # WANDB_MODE wins over the key, so the run stays offline even with a key present.
    env = offline_env(tmp_path, WANDB_API_KEY=secret, WANDB_MODE="offline")
    run_train(tmp_path, env, "logger=many", "trainer.max_epochs=1")
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for expected in ("csv", "wandb", "checkpoints", ".hydra"):
        assert (run_dir / expected).is_dir(), expected
    assert len(wandb_runs(run_dir)) == 1
    leaks = [str(p) for p in written if secret.encode() in p.read_bytes()]
    assert leaks == []
