"""The generated project's environment: uv.lock made at bake time, pip's path, the workflow and
Dependabot against their schemas, every extra resolvable on the newest Python offered."""

import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.helpers import TEMPLATE_ROOT, Bake, assert_ok, load_pyproject, run

pytestmark = pytest.mark.xdist_group("environment")

SCRIPTS = Path(sys.executable).parent  # uv and check-jsonschema: the root pyproject's dev group
UV = str(SCRIPTS / "uv")
NEWEST_PYTHON: str = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())[
    "python_version"
][-1]
INDEX = "https://pypi.org/simple/"


@pytest.fixture(scope="module")
def project(bake: Bake) -> Path:
    return bake(init_git="no")


@pytest.fixture(scope="module")
def registry() -> None:
    """Skips, saying why, when the package index cannot be reached: only then."""
    try:
        urllib.request.urlopen(INDEX, timeout=10).close()
    except OSError as error:
        pytest.skip(f"{INDEX} unreachable ({error}): uv cannot lock or resolve offline")


@pytest.mark.slow
@pytest.mark.usefixtures("registry")
def test_bake_with_uv_locks_and_commits_uv_lock(
    bake: Bake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BAKE_WITHOUT_UV_LOCK")
    monkeypatch.setenv("PATH", f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}")
    project = bake()
    assert_ok(run([UV, "lock", "--check"], cwd=project))  # uv.lock matches pyproject.toml
    assert "uv.lock" in run(["git", "ls-files"], cwd=project).stdout.split()
    assert run(["git", "status", "--porcelain"], cwd=project).stdout == ""  # in the first commit
    # Every extra resolves on the newest Python offered, from wheels (`--only-binary`).
    compile_ = [UV, "pip", "compile", "--quiet", "--python-version", NEWEST_PYTHON]
    compile_ += ["pyproject.toml", "--all-extras", "--only-binary", ":all:", "-o", os.devnull]
    assert_ok(run(compile_, cwd=project))


@pytest.mark.parametrize("why", ["uv missing", "uv offline"])
def test_bake_without_a_lock_says_how_to_make_it(
    why: str,
    bake: Bake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("BAKE_WITHOUT_UV_LOCK")
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists()]
    if why == "uv offline":
        path.insert(0, str(SCRIPTS))
        monkeypatch.setenv("UV_OFFLINE", "1")
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path))  # nothing cached to resolve from
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    project = bake(init_git="no")
    assert (project / "train.py").is_file() and not (project / "uv.lock").exists()
    # The hook runs as a child process writing straight to fd 2, hence capfd.
    [line] = [line for line in capfd.readouterr().err.splitlines() if "uv" in line]
    assert "run `uv lock` in the project" in line


def test_pip_installs_the_dev_group_with_every_extra(project: Path) -> None:
    # pip >= 25.1 reads PEP 735 groups; the group names the project's own extras.
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--no-index",
        "--no-build-isolation",
    ]
    result = run([*pip, "--group", "dev", "-e", "."], cwd=project)
    assert_ok(result)  # offline: this environment already holds every package the group needs
    assert "Would install my-project-0.1.0" in result.stdout
    assert "my-project[" in load_pyproject(project)["dependency-groups"]["dev"][0]


def test_workflow_and_dependabot_validate_against_their_schemas(project: Path) -> None:
    github = project / ".github"
    for schema, path in [
        ("vendor.github-workflows", github / "workflows" / "ci.yml"),
        ("vendor.dependabot", github / "dependabot.yml"),
    ]:
        check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, path]
        assert_ok(run(check, cwd=project))
    updates = yaml.safe_load((github / "dependabot.yml").read_text())["updates"]
    assert {update["package-ecosystem"] for update in updates} == {"uv", "github-actions"}
    jobs = yaml.safe_load((github / "workflows" / "ci.yml").read_text())["jobs"]
    for job in ("lint", "test"):  # the environment uv.lock pins, as `make install`
        assert "uv sync --locked" in [step.get("run") for step in jobs[job]["steps"]]
    make = run(["make", "-n", "install"], cwd=project)
    assert_ok(make)
    assert "uv sync --locked" in make.stdout
