"""A bake with a multi-word project name carries that name everywhere the defaults would be."""

import re
from pathlib import Path

import pytest

from tests.helpers import (
    Bake,
    assert_ruff_clean,
    find_in_tree,
    load_pyproject,
)

# the module's bake and venv are made once, on one worker
pytestmark = pytest.mark.xdist_group("custom_names")

DEFAULT_NAMES = re.compile(r"my[-_ ]project", re.IGNORECASE)
# Quotes and backslashes must not break the Python, TOML or YAML the answer ends up in.
DESCRIPTION = 'Models that say "hello" to C:\\new\\paths and {braces}'


@pytest.fixture(scope="module")
def project(bake: Bake) -> Path:
    return bake(project_name="Acme Rocket Science", description=DESCRIPTION)


def test_names_derive_from_project_name(project: Path) -> None:
    assert project.name == "acme-rocket-science"
    assert (project / "src" / "acme_rocket_science" / "__init__.py").is_file()


def test_no_default_name_left(project: Path) -> None:
    assert find_in_tree(project, DEFAULT_NAMES) == []


def test_description_with_quotes_and_backslashes_survives(project: Path) -> None:
    pyproject = load_pyproject(project)
    assert pyproject["project"]["description"] == DESCRIPTION
    assert DESCRIPTION in (project / "README.md").read_text()


def test_ruff_clean(project: Path) -> None:
    assert_ruff_clean(project)


# `make test` in a bake of another name runs in tests/test_features.py, on the bake that leaves
# out every optional part: one fast suite for both.
