"""Each `default_logger` answer: the generated default, the dependencies it installs, a real run."""

import json
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.helpers import (
    TEMPLATE_ROOT,
    Bake,
    MakeVenv,
    assert_ok,
    assert_ruff_clean,
    load_pyproject,
)

# the module's bakes are made once, on one worker
pytestmark = pytest.mark.xdist_group("loggers")

CHOICES: list[str] = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())["default_logger"]
# The package each logger needs beyond the base install (CSV needs none).
PACKAGES = {"csv": None, "wandb": "wandb", "tensorboard": "tensorboard", "mlflow": "mlflow"}


def test_every_choice_is_covered() -> None:
    assert set(CHOICES) == set(PACKAGES)


def names(requirements: list[str]) -> set[str]:
    return {Requirement(line).name for line in requirements}


def own_extras(requirements: list[str], project: str) -> set[str]:
    """The extras of the project itself that `requirements` pull in (`my-project[wandb]`)."""
    return {e for r in map(Requirement, requirements) if r.name == project for e in r.extras}


@pytest.fixture(scope="module", params=CHOICES)
def baked(request: pytest.FixtureRequest, bake: Bake) -> tuple[str, Path]:
    return request.param, bake(default_logger=request.param)


def test_default_logger_and_dependencies(baked: tuple[str, Path]) -> None:
    choice, project = baked
    train_yaml = (project / "conf" / "train.yaml").read_text()
    assert re.search(rf"^  - logger: {choice}\b", train_yaml, re.MULTILINE)
    metadata = load_pyproject(project)["project"]
    default = names(metadata["dependencies"])
    optional = set(PACKAGES.values()) - {None}
    assert default & optional == ({PACKAGES[choice]} - {None})
    extras = metadata["optional-dependencies"]
    for package in optional:  # every logger stays one extra away
        assert names(extras[package]) == {package}
    # The extras that gather others name them, instead of repeating their pins.
    assert own_extras(extras["all-loggers"], project.name) == optional
    dev = load_pyproject(project)["dependency-groups"]["dev"]
    assert {"all-loggers", "sweeps", "cluster"} <= own_extras(dev, project.name)
    assert_ruff_clean(project)


@pytest.mark.slow
def test_default_logger_trains(baked: tuple[str, Path], baked_venv: MakeVenv) -> None:
    choice, project = baked
    venv = baked_venv(project)
    # Offline even where a W&B login exists: tests upload nothing.
    offline = {"WANDB_MODE": "offline"}
    assert_ok(venv.run("train.py", "trainer.max_epochs=2", "test=false", cwd=project, env=offline))
    [run_dir] = (project / "logs" / "runs").iterdir()
    assert (run_dir / "csv" / "metrics.csv").is_file()  # written next to every logger
    assert (run_dir / "metrics.png").read_bytes().startswith(b"\x89PNG")
    expected = {
        "csv": run_dir / "csv",
        "wandb": run_dir / "wandb",
        "tensorboard": run_dir / "tensorboard",
        "mlflow": project / "logs" / "mlflow.db",
    }[choice]
    assert expected.exists(), f"logger={choice} should have written {expected}"
