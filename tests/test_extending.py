"""A user adds a dataset and a model exactly as the baked README says, and everything still works.

The code and configs come from the README's "Adding your own" recipes themselves, so the recipes
cannot drift from what the project accepts: no shape written by hand, the baked test suite still
green, and the new model trains on the new data, on the shipped data, and the shipped models on
the new data.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import Bake, MakeVenv, Venv, assert_ok, assert_ruff_clean, run

FENCE = re.compile(r"^ *```(?P<lang>\w+)\n(?P<body>.*?)^ *```", re.MULTILINE | re.DOTALL)


def recipe(readme: str, title: str) -> dict[str, str]:
    """The python and yaml blocks of one recipe ("**A model.**") of the README."""
    section = readme.split("## Adding your own", 1)[1].split("\n## ", 1)[0]
    text = section.split(f"**{title}**", 1)[1].split("\n**A ", 1)[0]
    blocks: dict[str, str] = {}
    for block in FENCE.finditer(text):
        indent = len(block.group(0)) - len(block.group(0).lstrip(" "))
        lines = [line[indent:] for line in block["body"].splitlines()]
        blocks.setdefault(block["lang"], "\n".join(lines) + "\n")
    return blocks


def add_table_row(readme: Path, group: str, option: str, what: str) -> None:
    """A row of the Configuration table, after the group's last row, as the recipes ask."""
    lines = readme.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith(f"| `{group}` |"))
    lines.insert(last + 1, f"| `{group}` | `{option}` | {what} |")
    readme.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def extended(bake: Bake, baked_venv: MakeVenv) -> tuple[Path, Venv]:
    project = bake()
    package = project / "src" / "my_project"
    readme = (project / "README.md").read_text()
    model, dataset = recipe(readme, "A model."), recipe(readme, "A dataset.")
    (package / "models" / "two_layer.py").write_text(model["python"])
    (project / "conf" / "model" / "two_layer.yaml").write_text(model["yaml"])
    (package / "data" / "npz.py").write_text(dataset["python"])
    (project / "conf" / "data" / "npz.yaml").write_text(dataset["yaml"])
    add_table_row(project / "README.md", "model", "two_layer", "a two-layer network")
    add_table_row(project / "README.md", "data", "npz", "features and targets from an .npz")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = x @ rng.normal(size=(5, 2)).astype(np.float32)  # two target columns
    np.savez(project / "data" / "arrays.npz", x=x, y=y)
    return project, baked_venv(project)


def test_the_recipes_hold_code_and_config_without_shapes(extended: tuple[Path, Venv]) -> None:
    project, _ = extended
    assert_ruff_clean(project)
    added = [project / "conf" / "model" / "two_layer.yaml", project / "conf" / "data" / "npz.yaml"]
    for config in added:
        settings = "\n".join(line.split("#")[0] for line in config.read_text().splitlines())
        assert not re.search(r"num_features|num_outputs|input_shape|in_features", settings)


@pytest.mark.slow
@pytest.mark.parametrize(
    "pair",
    [
        ("model=two_layer", "data=npz"),
        ("model=two_layer", "data=digits"),
        ("model=cnn", "data=npz"),
    ],
)
def test_any_model_trains_on_any_data(extended: tuple[Path, Venv], pair: tuple[str, str]) -> None:
    project, venv = extended
    result = venv.run("train.py", *pair, "debug=fdr", "logger=none", cwd=project)
    assert_ok(result)
    assert "test/loss" in result.stdout


@pytest.mark.slow
def test_the_baked_suite_stays_green(extended: tuple[Path, Venv]) -> None:
    project, venv = extended
    assert_ok(run(["make", "test", f"PYTHON={venv.python}"], cwd=project, timeout=1800))
