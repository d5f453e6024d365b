"""serve.py: a checkpoint behind LitServe on loopback answers as predict.py does, refuses bad
requests one line each and keeps serving, and holds under concurrent load."""

import csv
import http.client
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.cli import serve as serve_cli  # noqa: F401  (registers the schema)
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.serving import serve
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT, compose_config, free_port, serving
from .test_table import write_table

CLASSIFIER: tuple[str, ...] = ("data=csv", "data.target_column=label", "data.task=classification")
CLASSIFIER += ("data.feature_columns=[a,b]", "model=mlp", "logger=none", "test=false")


def train_classifier(root: Path) -> tuple[Path, Path]:
    """(a table with columns a, b, noise, y, label; a classifier of label from a and b)."""
    table = write_table(root / "table.csv")
    train(compose_config(root / "run", f"data.path={table}", *CLASSIFIER, "trainer.max_epochs=3"))
    return table, root / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_classifier(tmp_path_factory.mktemp("table"))


@contextmanager
def served(log_dir: Path, *overrides: str, ready: str = "/health") -> Iterator[int]:
    """`python serve.py <overrides>` on a free loopback port, until the block ends: the port.
    The block starts once `ready` answers (LitServe opens the port when the model is loaded)."""
    port = free_port()
    command = [sys.executable, str(PROJECT_ROOT / "serve.py"), f"port={port}", *overrides]
    with serving([*command, f"paths.log_dir={log_dir}"], f"http://127.0.0.1:{port}{ready}"):
        yield port


@pytest.fixture(scope="module")
def port(table_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with served(tmp_path_factory.mktemp("logs"), f"ckpt_path={table_run[1]}") as port:
        yield port


def post(
    port: int, body: Any, content_type: str = "application/json", api_key: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of POST /predict; `body` as JSON unless it is bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type} | ({"X-API-Key": api_key} if api_key else {})
    connection.request("POST", "/predict", data, headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def predicted_by_predict_py(table: Path, checkpoint: Path, tmp_path: Path) -> list[dict[str, str]]:
    """predict.py's rows for the first 40 rows of `table` (features only)."""
    with table.open() as file:
        rows = [{"a": r["a"], "b": r["b"]} for r in list(csv.DictReader(file))[:40]]
    new = tmp_path / "new.csv"
    new.write_text("a,b\n" + "".join(f"{r['a']},{r['b']}\n" for r in rows))
    cfg = compose_config(tmp_path, f"ckpt_path={checkpoint}", f"input={new}", config_name="predict")
    with predict(cfg).open() as file:
        return [row | features for row, features in zip(csv.DictReader(file), rows, strict=True)]


def assert_same_answers(
    port: int, expected: list[dict[str, str]], api_key: str | None = None
) -> None:
    for row in expected:
        status, answer = post(port, {"a": float(row["a"]), "b": float(row["b"])}, api_key=api_key)
        assert status == 200, answer
        assert answer["prediction"] == row["prediction"]
        for name, probability in answer["probabilities"].items():
            assert probability == pytest.approx(float(row[f"probability_{name}"]), abs=1e-6)


@pytest.mark.slow  # a server in a process of its own
def test_answers_are_predict_py_s(table_run: tuple[Path, Path], port: int, tmp_path: Path) -> None:
    expected = predicted_by_predict_py(*table_run, tmp_path)
    assert {row["prediction"] for row in expected} == {"down", "up"}
    assert_same_answers(port, expected)
    assert not (Path.cwd() / "client.py").exists()  # LitServe writes one unless told not to


BAD_REQUESTS = [
    ({"a": 1.0}, "application/json", 422, "the request lacks 'b'"),
    ({"a": 1.0, "b": 2.0, "c": 3.0}, "application/json", 422, "has 'c', unknown to the model"),
    ({"a": "one", "b": 2.0}, "application/json", 422, "column 'a' holds text where numbers"),
    ([1.0, 2.0], "application/json", 400, "the body is not a JSON object"),
    (b'{"a": 1.0,', "application/json", 400, "the body is not a JSON object"),
    (b"a=1&b=2", "application/x-www-form-urlencoded", 415, "send a JSON object"),
    (b"a,b\n1,2\n", "text/csv", 415, "Content-Type text/csv"),
    ({"a": 1.0, "b": 2.0, "pad": "x" * 2_000_000}, "application/json", 413, "too large"),
]


@pytest.mark.slow  # a server in a process of its own
@pytest.mark.parametrize(("body", "content_type", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_one_line_and_the_server_goes_on(
    port: int, body: Any, content_type: str, status: int, message: str
) -> None:
    got, answer = post(port, body, content_type)
    assert (got, list(answer)) == (status, ["detail"])
    assert message in answer["detail"] and "\n" not in answer["detail"]
    assert post(port, {"a": 1.0, "b": -1.0})[1]["prediction"] == "up"


@pytest.mark.slow  # a server in a process of its own
def test_a_missing_value_is_filled_as_in_training(port: int) -> None:
    # null is a missing value: the training mean fills it, as predict.py fills an empty cell
    status, answer = post(port, {"a": None, "b": -1.0})
    assert status == 200 and answer["prediction"] in {"up", "down"}


@pytest.mark.slow  # a server in a process of its own
def test_many_clients_at_once_all_answered(port: int) -> None:
    """32 clients, 2,000 requests, a bad one among every 100: each answered, none failed."""

    def client(index: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        statuses = []
        for i in range(index, 2000, 32):
            row = {"a": i / 1000, "b": 1.0} if i % 100 else {"a": "bad", "b": 1.0}
            connection.request(
                "POST", "/predict", json.dumps(row), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            statuses.append(response.status)
            assert ("prediction" in answer) == (response.status == 200), answer
        return statuses

    with ThreadPoolExecutor(32) as pool:
        statuses = [s for result in pool.map(client, range(32)) for s in result]
    assert len(statuses) == 2000
    assert statuses.count(422) == 20 and statuses.count(200) == 1980


def test_a_host_litserve_does_not_bind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^host=10\.0\.0\.1: LitServe binds one of 127\.0\.0\.1"):
        serve(compose_config(tmp_path, "host=10.0.0.1", config_name="serve"))


@pytest.mark.slow  # trains a model
def test_what_cannot_be_served_is_refused_before_serving(table_run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.onnx"
    cfg = compose_config(
        tmp_path, f"ckpt_path={table_run[1]}", f"onnx_path={missing}", config_name="serve"
    )
    with pytest.raises(ConfigError, match="does not exist"):
        serve(cfg)
    # The default data is generated: it has no columns to read a request by.
    train(compose_config(tmp_path / "run", "trainer.max_epochs=1", "logger=none", "test=false"))
    cfg = compose_config(
        tmp_path, f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", config_name="serve"
    )
    with pytest.raises(ConfigError, match="SyntheticRegressionDataModule reads no new inputs"):
        serve(cfg)
