"""Every experiment logger, run for real and read back with the tool's own reader."""

import csv
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient
from omegaconf import open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.metadata import EXPERIMENT_TAG, SESSION_START_INFO_TAG
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from {{ cookiecutter.package_name }}.cli import CONFIG_DIR
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.loggers import wandb_mode
from {{ cookiecutter.package_name }}.tools.compare import main as compare_main
from {{ cookiecutter.package_name }}.tools.plots import read_curves
from {{ cookiecutter.package_name }}.training import train

from .conftest import (
    PROJECT_ROOT,
    error_line,
    free_port,
    http_get,
    run_script,
    running_job,
    serving,
)
from .wandb_records import records

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHORT_RUN = ("trainer.max_epochs=2", "callbacks=none", "test=false")


@pytest.fixture(autouse=True)
def no_mlflow_uri_from_earlier_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow puts the store it last used in MLFLOW_TRACKING_URI, which conf/logger/mlflow.yaml
    reads: each test starts without it, as a new process does."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100


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


@pytest.mark.slow
def test_dot_env_sets_only_the_variables_not_already_set(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nPROJECT_ROOT=from-dotenv  # a note\nexport WANDB_PROJECT='two # words'\n"
    )
    printed = run_script(tmp_path, "train.py", "--cfg", "job", "--resolve", "logger=wandb")
    assert printed.returncode == 0, printed.stderr
    assert "root_dir: from-dotenv" in printed.stdout and "project: 'two # words'" in printed.stdout
    kept = run_script(tmp_path, "train.py", "--cfg", "job", "--resolve", PROJECT_ROOT="mine")
    assert kept.returncode == 0, kept.stderr
    assert "root_dir: mine" in kept.stdout  # variables already set win


def test_tensorboard_events_hparams_csv_and_plot(make_config, tmp_path: Path) -> None:
    metrics = train(make_config("logger=tensorboard", "trainer.max_epochs=2", "callbacks=none"))
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train/loss", "val/loss", "val/r2", "test/r2"} <= set(events.Tags()["scalars"])
    tensorboard_val = [event.value for event in events.Scalars("val/loss")]
    epochs, csv_val = read_curves(tmp_path / "csv" / "metrics.csv")["val/loss"]
    assert epochs == [0, 1]
    assert csv_val == pytest.approx(tensorboard_val, rel=1e-6)  # one point per epoch, no extra
    assert_png(tmp_path / "metrics.png")

    # The HParams tab: the hyperparameters, and the final metrics declared and logged with them.
    plugin = {
        tag: HParamsPluginData.FromString(content)
        for tag, content in events.PluginTagToContent("hparams").items()
    }
    declared = {info.name.tag for info in plugin[EXPERIMENT_TAG].experiment.metric_infos}
    assert declared == {f"hp/{name}" for name in metrics}
    hparams = plugin[SESSION_START_INFO_TAG].session_start_info.hparams
    assert hparams["model/optimizer/lr"].number_value == 0.1
    assert hparams["run_info/params_total"].number_value == 9  # nn.Linear(8, 1)
    [final] = events.Scalars("hp/test/r2")
    assert final.value == pytest.approx(metrics["test/r2"], rel=1e-6)


def test_mlflow_metrics_tags_and_artifacts_in_the_project(tmp_path: Path) -> None:
    overrides = ["logger=mlflow", "tags=[baseline,lr-sweep]", "logger.mlflow.log_model=true"]
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose("train", [*overrides, "trainer.max_epochs=2"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = cfg.paths.output_dir = str(tmp_path)
    with running_job(cfg):  # as in `python train.py`: the run is named after its overrides
        metrics = train(cfg)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "logger.mlflow.log_model=true,trainer.max_epochs=2"
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert len(history) == 2
    assert history[-1].value == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert run.data.metrics["val/loss_best"] == pytest.approx(metrics["val/loss_best"])
    assert int(run.data.params["run_info/params_total"]) == 9  # nn.Linear(8, 1)
    assert {"baseline": "true", "lr-sweep": "true"}.items() <= run.data.tags.items()
    assert not any(key.startswith("tags") for key in run.data.params)  # tags are tags
    # Artifacts: under logs/, as MLflow reports them, and no ./mlruns anywhere.
    artifacts = tmp_path / "logs" / "mlflow-artifacts"
    assert experiment.artifact_location == artifacts.as_uri()
    assert run.info.artifact_uri == f"{artifacts.as_uri()}/{run.info.run_id}/artifacts"
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert files == {"last", "best-epoch001"}  # the checkpoints, with log_model=true
    assert sorted(p.name for p in artifacts.rglob("*.ckpt")) == ["best-epoch001.ckpt", "last.ckpt"]
    assert not (tmp_path / "mlruns").exists() and not (Path.cwd() / "mlruns").exists()
    assert_png(tmp_path / "metrics.png")


def mlflow_command(*args: str, store: str, port: int) -> list[str]:
    where = ["--backend-store-uri", store, "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "mlflow", *args, *where, "--workers", "1"]


@pytest.mark.slow
def test_mlflow_logs_to_a_tracking_server(make_config, tmp_path: Path) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    command = mlflow_command("server", store=f"sqlite:///{tmp_path}/server.db", port=port)
    with serving(command, f"{uri}/health"):
        train(make_config("logger=mlflow", f"logger.mlflow.tracking_uri={uri}", *SHORT_RUN))
        client = MlflowClient(tracking_uri=uri)
        [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
        [run] = client.search_runs([experiment.experiment_id])
        assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 2
    assert not (tmp_path / "logs" / "mlflow.db").exists()  # nothing went to the local store


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No W&B credentials anywhere and no reachable W&B server: what a fresh laptop offline has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "MLFLOW_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # Port 9 (discard) on the loopback: any attempt to reach the server fails at once.
    unreachable = {"WANDB_BASE_URL": "http://127.0.0.1:9"}
    return env | {"HOME": str(home), "NETRC": str(home / ".netrc")} | unreachable | extra


def run_train(
    cwd: Path, env: dict[str, str], *overrides: str, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *python_flags, str(PROJECT_ROOT / "train.py"), *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


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
def test_wandb_run_resumed_by_id_continues_where_it_stopped(tmp_path: Path) -> None:
    # Any argument of wandb.init passes through: the same id (and resume=allow, Lightning's
    # default too) makes the second run part of the first; offline, W&B joins them on sync.
    run_id = ("logger=wandb", "+logger.wandb.id=resume-me", "callbacks=default")
    run_train(tmp_path, offline_env(tmp_path), *run_id, "trainer.max_epochs=2")
    resumed = (*run_id, "+logger.wandb.resume=allow", "ckpt_path=last", "trainer.max_epochs=4")
    run_train(tmp_path, offline_env(tmp_path), *resumed)
    runs = wandb_runs(tmp_path / "logs" / "runs")
    assert [first(run, "run").run_id for run in runs] == ["resume-me", "resume-me"]
    assert all(first(run, "run").resume for run in runs)
    assert [first(run, "exit").exit_code for run in runs] == [0, 0]

    def epochs(run: list) -> list[int]:
        rows = [items(r.history.item) for r in run if r.WhichOneof("record_type") == "history"]
        return sorted({int(row["epoch"]) for row in rows if "val/loss" in row})

    assert epochs(runs[0]) == [0, 1] and epochs(runs[1]) == [2, 3]  # the history continues


@pytest.mark.slow
def test_mlflow_ui_serves_the_project_database_and_the_project_reads_it_after(
    make_config, tmp_path: Path
) -> None:
    cfg = make_config("logger=mlflow", *SHORT_RUN)
    train(cfg)
    store = f"sqlite:///{tmp_path}/logs/mlflow.db"
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with serving(mlflow_command("ui", store=store, port=port), f"{uri}/health"):
        status, page = http_get(uri)
        assert status == 200 and "<html" in page.lower()
        status, body = http_get(f"{uri}/api/2.0/mlflow/experiments/search?max_results=10")
        assert status == 200
        names = {e["name"] for e in json.loads(body)["experiments"]}
        assert cfg.logger.mlflow.experiment_name in names
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "second")  # a second run, in a folder of its own
    train(cfg)  # the project's MLflow writes to the database the UI opened
    client = MlflowClient(tracking_uri=store)
    [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
    assert len(client.search_runs([experiment.experiment_id])) == 2


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
    for expected in ("tensorboard", "csv", "wandb", "checkpoints", ".hydra"):
        assert (run_dir / expected).is_dir(), expected
    assert (tmp_path / "logs" / "mlflow.db").is_file()
    assert len(wandb_runs(run_dir)) == 1
    leaks = [str(p) for p in written if secret.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.slow
def test_csv_run_imports_no_optional_tracker(tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    flags = ("-X", "importtime")
    result = run_train(tmp_path, env, "logger=csv", "trainer.max_epochs=2", python_flags=flags)
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, re.MULTILINE)
    assert "lightning" in imported  # the import log was captured
    optional = {"wandb", "mlflow", "tensorboard", "tensorboardX"}
    assert [name for name in imported if name.split(".")[0] in optional] == []
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    assert_png(run_dir / "metrics.png")
