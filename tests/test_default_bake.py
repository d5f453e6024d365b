"""The default bake is complete, lint-clean, installable, and its own tests and training pass."""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter
from packaging.specifiers import SpecifierSet

from tests.helpers import (
    JINJA_LEFTOVER,
    TEMPLATE_ROOT,
    Bake,
    MakeVenv,
    Venv,
    assert_ok,
    assert_ruff_clean,
    find_in_tree,
    load_pyproject,
    run,
    snapshot,
    unmet_requirements,
)

# with test_extending.py: the session's extended bake is installed once, on one worker
pytestmark = pytest.mark.xdist_group("extended")

DEFAULTS = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())
PYTHON_VERSIONS: list[str] = DEFAULTS["python_version"]


@pytest.fixture(scope="module")
def project(bake: Bake) -> Path:
    return bake()


def test_names_follow_the_defaults(project: Path) -> None:
    assert project.name == "my-project"
    assert (project / "src" / "my_project" / "__init__.py").is_file()


def test_no_jinja_left(project: Path) -> None:
    assert find_in_tree(project, JINJA_LEFTOVER) == []


def test_ruff_clean(project: Path) -> None:
    assert_ruff_clean(project)


def test_gitignore_hides_nothing_of_the_project(project: Path, tmp_path: Path) -> None:
    # A broad pattern (say `data/`) would also hide the template's own data/ folders from the
    # template's repository, and later the user's sources from theirs.
    clone = tmp_path / project.name
    shutil.copytree(project, clone)
    assert_ok(run(["git", "init", "-q"], cwd=clone))
    ignored = run(["git", "ls-files", "--others", "--ignored", "--exclude-standard"], cwd=clone)
    assert_ok(ignored)
    hidden = ignored.stdout.split()
    assert not hidden, f".gitignore hides files of the fresh project (anchor with '/'): {hidden}"


def test_pyproject_metadata(project: Path) -> None:
    metadata = load_pyproject(project)["project"]
    assert metadata["name"] == "my-project"
    assert metadata["version"]


@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_requires_python_follows_prompt(bake: Bake, python_version: str) -> None:
    supported = SpecifierSet(
        load_pyproject(bake(python_version=python_version))["project"]["requires-python"]
    )
    major, minor = map(int, python_version.split("."))
    assert f"{major}.{minor}" in supported
    assert f"{major}.{minor - 1}" not in supported


def test_answers_are_recorded(project: Path) -> None:
    answers = json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]
    assert answers["project_name"] == "My Project"
    assert answers["project_slug"] == "my-project"
    assert answers["package_name"] == "my_project"
    assert answers["python_version"] == PYTHON_VERSIONS[0]
    prompts = {key for key in DEFAULTS if not key.startswith("_")}
    assert prompts <= answers.keys()


def test_recorded_answers_replay_to_identical_tree(
    bake: Bake, tmp_path: Path, cookiecutter_config: dict[str, Any]
) -> None:
    # Non-default answers, so a replay that silently fell back to defaults would differ.
    original = bake(
        project_name="Replay Check",
        author_name="Ada Lovelace",
        python_version=PYTHON_VERSIONS[-1],
        license="BSD-3-Clause",
    )
    replayed = cookiecutter(
        str(TEMPLATE_ROOT),
        replay=str(original / ".cookiecutter.json"),
        output_dir=str(tmp_path),
        default_config=cookiecutter_config,
    )
    assert snapshot(Path(replayed)) == snapshot(original)


def test_runtime_requirements_are_in_the_dev_environment(project: Path) -> None:
    # The root dev group installs the generated project's stack; this catches the two drifting.
    unmet = unmet_requirements(load_pyproject(project)["project"]["dependencies"])
    assert unmet == [], f"add to [dependency-groups] dev in the root pyproject.toml: {unmet}"


@pytest.fixture(scope="module")
def installed(extended: tuple[Path, Venv]) -> tuple[Path, Venv]:
    # A bake of its own (running tests and training writes logs into the project): the one
    # tests/test_extending.py adds the README's recipes to, so the whole suite runs once for both.
    return extended


@pytest.mark.slow
def test_baked_test_suite_passes(installed: tuple[Path, Venv]) -> None:
    project, venv = installed
    env = {"WANDB_MODE": "offline"}
    # The timeout only stops a hang: on one worker of a loaded 2-core machine the whole suite
    # has taken from 15 to over 30 minutes, and CI's own limit is 90.
    suite = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert_ok(venv.run(*suite, cwd=project, env=env, timeout=3600))


@pytest.mark.slow
def test_training_smoke_run(installed: tuple[Path, Venv]) -> None:
    project, venv = installed
    assert_ok(venv.run("train.py", "trainer.max_epochs=1", cwd=project))
    runs = [p for p in (project / "logs" / "runs").iterdir() if p.is_dir()]
    assert runs, "training should leave a run directory under logs/runs/"


@pytest.mark.slow
def test_installed_commands_complete_in_bash(installed: tuple[Path, Venv], tmp_path: Path) -> None:
    """The README's `eval "$(my-project-train -sc install=bash)"`, then a TAB after `trainer=g`."""
    _, venv = installed
    line = "my-project-train trainer=g"
    script = (
        'eval "$(my-project-train -sc install=bash)"\n'
        f'COMP_LINE="{line}"; COMP_POINT={len(line)}; COMP_CWORD=1\n'
        'hydra_bash_completion\necho "${COMPREPLY[@]}"\n'
    )
    path = f"{venv.root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    result = run(["bash", "-c", script], cwd=tmp_path, env={"PATH": path})
    assert_ok(result)
    assert result.stdout.split() == ["trainer=gpu", "trainer=gpu_bf16"]


@pytest.mark.slow
def test_installed_wheel_trains_with_its_packaged_configs(
    bake: Bake, baked_venv: MakeVenv, tmp_path: Path
) -> None:
    # `pip install .` (not editable): conf/ must travel inside the wheel and be found there.
    project = bake()
    venv = baked_venv(project, editable=False)
    where = venv.run("-c", "import my_project.cli as c; print(c.config_dir())", cwd=tmp_path)
    assert_ok(where)
    assert Path(where.stdout.strip()).parent.name == "my_project"  # inside the installed package
    shutil.rmtree(project)  # nothing of the checkout may be needed any more
    command = venv.root / "bin" / "my-project-train"
    assert_ok(run([command, "trainer.max_epochs=1", "callbacks=none"], cwd=tmp_path))
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    assert (run_dir / "metrics.json").is_file()
