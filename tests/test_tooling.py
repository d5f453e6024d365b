"""The generated project's own tooling: git history, CI workflow, pre-commit, Makefile, cruft."""

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.main import cookiecutter

from tests.helpers import TEMPLATE_ROOT, Bake, assert_ok, run, snapshot

# the module's bake is made once, on one worker
pytestmark = pytest.mark.xdist_group("tooling")

PYTHON_VERSIONS: list[str] = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())[
    "python_version"
]
WORKFLOW = Path(".github/workflows/ci.yml")


@pytest.fixture(scope="module")
def project(bake: Bake) -> Path:
    return bake()


def test_project_starts_as_a_clean_git_repository(project: Path) -> None:
    log = run(["git", "log", "--oneline"], cwd=project)
    assert_ok(log)
    assert len(log.stdout.splitlines()) == 1
    status = run(["git", "status", "--porcelain"], cwd=project)
    assert_ok(status)
    assert status.stdout == ""  # everything committed, nothing generated left untracked
    tracked = run(["git", "ls-files"], cwd=project).stdout.split()
    assert {"train.py", "data/.gitkeep", "logs/.gitkeep", str(WORKFLOW)} <= set(tracked)


def test_git_init_can_be_turned_off(bake: Bake) -> None:
    assert not (bake(init_git="no") / ".git").exists()


def test_baking_again_over_a_project_keeps_its_history(
    tmp_path: Path, cookiecutter_config: dict[str, Any]
) -> None:
    def bake_over() -> Path:
        return Path(
            cookiecutter(
                str(TEMPLATE_ROOT),
                no_input=True,
                output_dir=str(tmp_path),
                overwrite_if_exists=True,
                default_config=cookiecutter_config,
            )
        )

    project = bake_over()
    (project / "notes.txt").write_text("mine\n")
    identity = ["-c", "user.name=Someone", "-c", "user.email=someone@example.com"]
    assert_ok(run(["git", "add", "notes.txt"], cwd=project))
    assert_ok(run(["git", *identity, "commit", "--quiet", "-m", "My change"], cwd=project))
    bake_over()
    log = run(["git", "log", "--format=%s"], cwd=project)
    assert log.stdout.splitlines() == ["My change", "Start from template"]


@pytest.mark.parametrize("minimum", PYTHON_VERSIONS)
def test_workflow_is_valid_yaml_with_github_expressions_intact(bake: Bake, minimum: str) -> None:
    text = (bake(python_version=minimum, init_git="no") / WORKFLOW).read_text()
    assert "${{ matrix.python-version }}" in text  # cookiecutter's Jinja must not eat them
    workflow = yaml.safe_load(text)
    test_job = workflow["jobs"]["test"]
    versions = test_job["strategy"]["matrix"]["python-version"]
    assert versions == [
        v
        for v in PYTHON_VERSIONS
        if tuple(map(int, v.split("."))) >= tuple(map(int, minimum.split(".")))
    ]
    commands = [step.get("run", "") for step in test_job["steps"]]
    assert "python -m pytest" in commands
    # The oldest dependencies pyproject.toml allows, on the oldest Python, pass the suite too.
    lowest = workflow["jobs"]["lowest"]
    [python] = [
        s["with"]["python-version"] for s in lowest["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert python == minimum
    lowest_commands = [step.get("run", "") for step in lowest["steps"]]
    assert any("--resolution lowest-direct" in c and "--group dev" in c for c in lowest_commands)
    assert "python -m pytest" in lowest_commands
    lint_commands = " ".join(step.get("run", "") for step in workflow["jobs"]["lint"]["steps"])
    assert "ruff check" in lint_commands and "mypy" in lint_commands


def test_workflow_can_be_left_out(bake: Bake) -> None:
    project = bake(github_actions="no", init_git="no")
    assert not (project / ".github").exists()


def test_pre_commit_config_validates(project: Path) -> None:
    config = project / ".pre-commit-config.yaml"
    assert_ok(run([sys.executable, "-m", "pre_commit", "validate-config", config], cwd=project))
    hooks = {
        hook["id"] for repo in yaml.safe_load(config.read_text())["repos"] for hook in repo["hooks"]
    }
    expected = {"ruff", "ruff-format", "check-yaml", "check-toml", "end-of-file-fixer"}
    expected |= {"trailing-whitespace", "check-added-large-files", "detect-private-key"}
    assert expected | {"nbstripout"} <= hooks


def test_makefile_lists_its_targets_by_default(project: Path) -> None:
    result = run(["make"], cwd=project)
    assert_ok(result)
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    expected = {"install", "train", "test", "test-all", "lint", "format", "env", "clean"}
    assert expected | {"sweep", "compare", "dashboard", "mlflow", "tensorboard"} <= listed
    assert "bench" not in listed  # the benchmark is the template's own (make bench there)


def test_sweep_target_starts_the_chosen_search(project: Path) -> None:
    result = run(
        ["make", "-n", "sweep", "SEARCH=digits_optuna", "ARGS=hydra/launcher=joblib"], cwd=project
    )
    assert_ok(result)
    assert "train.py -m hparams_search=digits_optuna hydra/launcher=joblib" in result.stdout


def test_dashboard_targets_open_the_project_stores(project: Path) -> None:
    result = run(["make", "-n", "dashboard", "SEARCH=digits_optuna"], cwd=project)
    assert_ok(result)
    assert "optuna-dashboard sqlite:///logs/sweeps/digits_optuna/study.db" in result.stdout
    result = run(["make", "-n", "mlflow", "tensorboard"], cwd=project)
    assert_ok(result)
    assert "-m mlflow ui --backend-store-uri sqlite:///logs/mlflow.db" in result.stdout
    assert "-m tensorboard.main --logdir logs" in result.stdout


def test_make_lint_passes_ruff_mypy_and_the_import_layers(project: Path, mypy_cache: Path) -> None:
    """`make lint`: ruff check, ruff format --check, mypy and lint-imports, with the project's
    own settings, in an environment like an activated venv (its scripts on PATH)."""
    scripts = str(Path(sys.executable).parent)
    env = {
        "MYPY_CACHE_DIR": str(mypy_cache),
        "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": "src",  # as installed: lint-imports finds the package
    }
    result = run(["make", "lint", f"PYTHON={sys.executable}"], cwd=project, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make lint exited {result.returncode}:\n{output}"
    assert "Success: no issues found" in result.stdout, output  # mypy ran and found nothing
    assert "0 broken" in result.stdout, output  # and lint-imports kept every contract


def test_env_target_reports_versions_and_devices(project: Path) -> None:
    # as after `make install`: the project importable by the Python that runs the script
    result = run(
        ["make", "env", f"PYTHON={sys.executable}"], cwd=project, env={"PYTHONPATH": "src"}
    )
    assert_ok(result)
    assert "torch" in result.stdout and "cuda" in result.stdout and "lightning" in result.stdout


GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com"]
CRUFT = [sys.executable, "-m", "cruft"]


def template_repository(root: Path) -> Path:
    """This template copied to `root/template` as a git repository with one commit, as cruft
    needs it."""
    template = root / "template"
    shutil.copytree(
        TEMPLATE_ROOT,
        template,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", "*_cache"),
    )
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "old"]):
        assert_ok(run([*GIT, *step], cwd=template))
    return template


def test_cruft_turns_on_a_feature_left_out_at_first(tmp_path: Path) -> None:
    template = template_repository(tmp_path)
    created = [*CRUFT, "create", "--no-input", str(template)]
    assert_ok(run([*created, "--extra-context", '{"export": "no"}'], cwd=tmp_path))
    project = tmp_path / "my-project"
    assert not (project / "export.py").exists()
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        assert_ok(run([*GIT, *step], cwd=project))
    update = ["update", "--skip-apply-ask", "--allow-untracked-files"]
    assert_ok(run([*CRUFT, *update, "--variables-to-update", '{"export": "yes"}'], cwd=project))
    assert not list(project.rglob("*.rej"))  # applied cleanly, no rejected hunks
    # The project is now what baking with export=yes gives: files, extras, script, README.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert_ok(run(created, cwd=fresh))
    ignored = {Path(".cruft.json")}  # the same answers; cruft words them in its own order
    mine = {k: v for k, v in snapshot(project).items() if k not in ignored}
    assert mine == {k: v for k, v in snapshot(fresh / "my-project").items() if k not in ignored}
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert answers["export"] is True


@pytest.mark.slow
def test_cruft_updates_a_project_baked_from_an_older_template(tmp_path: Path) -> None:
    # The template as a git repository at two commits: the project is baked from the first.
    template = template_repository(tmp_path)
    git = GIT
    cruft = CRUFT
    assert_ok(run([*cruft, "create", "--no-input", str(template)], cwd=tmp_path))
    project = tmp_path / "my-project"
    assert (project / ".cruft.json").is_file()
    # Under cruft the project's git history is the user's to start (see hooks/post_gen_project.py).
    assert not (project / ".git").exists()
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        assert_ok(run([*git, *step], cwd=project))
    assert_ok(run([*cruft, "check"], cwd=project))

    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA section added by a newer template.\n")
    assert_ok(run([*git, "commit", "-qam", "new"], cwd=template))
    assert run([*cruft, "check"], cwd=project).returncode != 0  # out of date now

    assert_ok(run([*cruft, "update", "--skip-apply-ask", "--allow-untracked-files"], cwd=project))
    assert "A section added by a newer template." in (project / "README.md").read_text()
    assert not list(project.rglob("*.rej"))  # applied cleanly, no rejected hunks
    assert_ok(run([*git, "add", "-A"], cwd=project))
    assert_ok(run([*git, "commit", "-qm", "update"], cwd=project))
    assert_ok(run([*cruft, "check"], cwd=project))
