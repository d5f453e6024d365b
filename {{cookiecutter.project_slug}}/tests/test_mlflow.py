"""logger=mlflow: a project store and a tracking server, read back with MLflow's client."""

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.training import train

from .conftest import (
    CONFIG_DIR,
    free_port,
    http_get,
    running_job,
    serving,
)
from .test_tracking import SHORT_RUN, assert_png, offline_env, run_train


@pytest.fixture(autouse=True)
def no_mlflow_uri_from_other_tests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MLflow puts the store it last used in MLFLOW_TRACKING_URI, which conf/logger/mlflow.yaml
    reads: each test starts without it, as a new process does, and leaves none behind (a
    later test's run would try a server that is gone, retrying for minutes)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # set during the test: delenv has no undo then


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
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # training runs
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


@pytest.mark.slow
def test_mlflow_run_resumed_from_its_checkpoint_continues_the_same_run(tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    run_train(tmp_path, env, "logger=mlflow", "trainer.max_epochs=2", "seed=3")
    run_train(tmp_path, env, "logger=mlflow", "ckpt_path=last", "trainer.max_epochs=4", "seed=3")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
    [run] = client.search_runs([experiment.experiment_id])  # one run, not two
    assert run.info.status == "FINISHED"
    epochs = client.get_metric_history(run.info.run_id, "epoch")
    assert {0, 1, 2, 3} <= {int(m.value) for m in epochs}
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")]
    assert len(steps) == 4 and steps == sorted(set(steps))  # the curve goes on, step by step
    assert run.data.params["trainer/max_epochs"] == "2"  # as the run began: MLflow keeps it
