"""serve.py onnx_path=...: the exported model, run by onnxruntime, answers as predict.py does;
behind an API key taken from the environment and written nowhere."""

import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.cli import export as export_cli  # noqa: F401  (registers the schema)
from {{ cookiecutter.package_name }}.export import export

from .conftest import compose_config, http_get
from .test_serve import assert_same_answers, post, predicted_by_predict_py, served, train_classifier

pytestmark = pytest.mark.slow  # a server in a process of its own

KEY = "a-key-of-this-test-only"


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_classifier(tmp_path_factory.mktemp("table"))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def port(
    table_run: tuple[Path, Path], logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    out = tmp_path_factory.mktemp("export")
    model = export(compose_config(out, f"ckpt_path={table_run[1]}", config_name="export"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LIT_SERVER_API_KEY", KEY)
        # /health wants the key too: the API's schema says when the server is up
        served_onnx = served(
            logs, f"ckpt_path={table_run[1]}", f"onnx_path={model}", ready="/openapi.json"
        )
        with served_onnx as port:
            yield port


def test_the_onnx_file_answers_as_predict_py(
    table_run: tuple[Path, Path], port: int, tmp_path: Path
) -> None:
    assert_same_answers(port, predicted_by_predict_py(*table_run, tmp_path), api_key=KEY)


def test_the_api_key_is_required_and_written_nowhere(port: int, logs: Path) -> None:
    assert post(port, {"a": 1.0, "b": -1.0})[0] == 401
    with pytest.raises(urllib.error.HTTPError, match="401"):
        http_get(f"http://127.0.0.1:{port}/health")
    assert post(port, {"a": 1.0, "b": -1.0}, api_key="wrong")[0] == 401
    assert post(port, {"a": 1.0, "b": -1.0}, api_key=KEY)[1]["prediction"] == "up"
    written = [path for path in logs.rglob("*") if path.is_file()]
    assert any(path.name == "serve.log" for path in written)
    assert not [path for path in written if KEY in path.read_text()]
