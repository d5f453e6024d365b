"""A user adds a dataset and a model exactly as the baked README says, and everything still works.

The code and configs come from the README's "Adding your own" recipes themselves, so the recipes
cannot drift from what the project accepts: no shape written by hand, the baked test suite still
green, and the new model trains on the new data, on the shipped data, and the shipped models on
the new data. The bake is conftest.py's `extended`, whose whole suite test_default_bake.py runs.
"""

import re
from pathlib import Path

import pytest

from tests.helpers import Venv, assert_ok, assert_ruff_clean

# with test_default_bake.py: the session's extended bake is installed once, on one worker
pytestmark = pytest.mark.xdist_group("extended")


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
