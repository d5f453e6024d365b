"""scripts/trace_fit.py: the project code a bake's `python train.py` runs up to Trainer.fit."""

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TEMPLATE_ROOT, Bake, assert_ok, run

# the module's bake and trace are made once, on one worker
pytestmark = pytest.mark.xdist_group("trace_fit")

SCRIPT = TEMPLATE_ROOT / "scripts" / "trace_fit.py"


@pytest.fixture(scope="module")
def project(bake: Bake) -> Path:
    return bake(project_name="Traced Project")


@pytest.fixture(scope="module")
def traced(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The script's printed table and its --json output for the bake's default run."""
    json_file = tmp_path_factory.mktemp("trace") / "trace.json"
    result = run(
        [sys.executable, SCRIPT, project, "--json", json_file], env={"OMP_NUM_THREADS": "1"}
    )
    assert_ok(result)
    return {"stdout": result.stdout, **json.loads(json_file.read_text())}


def line_of(path: Path, text: str) -> int:
    """The number of the first line of `path` that contains `text`."""
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_entry_point_cli_and_training_ran(project: Path, traced: dict[str, Any]) -> None:
    files = traced["files"]
    package = "src/traced_project"
    for path in ("train.py", f"{package}/cli/__init__.py", f"{package}/training.py"):
        assert files.get(path, 0) > 0, f"{path} not among {sorted(files)}"
    # the import and the call of train.py's entry point; the call of fit and nothing after it
    assert line_of(project / "train.py", "train_main()") in traced["lines"]["train.py"]
    training = traced["lines"][f"{package}/training.py"]
    fit = line_of(project / package / "training.py", "trainer.fit(")
    assert fit in training
    train_end = line_of(project / package / "training.py", "return metrics")
    assert not [n for n in training if fit < n <= train_end], "train() went on after fit"


def test_counts_are_distinct_lines_of_project_files(project: Path, traced: dict[str, Any]) -> None:
    for path, count in traced["files"].items():
        numbers = traced["lines"][path]
        assert not path.startswith((".", "/")) and "site-packages" not in path
        assert count == len(numbers) == len(set(numbers)) > 0
        assert max(numbers) <= len((project / path).read_text().splitlines())


def test_totals_are_the_sums_of_the_rows(traced: dict[str, Any]) -> None:
    files = traced["files"]
    assert traced["total_files"] == len(files) > 3
    assert traced["total_lines"] == sum(files.values())
    printed = traced["stdout"].splitlines()
    rows = {path: int(count) for count, path in (line.split() for line in printed[2:-1])}
    assert rows == files
    assert printed[-1].split() == [
        str(traced["total_lines"]),
        "total",
        "lines",
        "in",
        str(traced["total_files"]),
        "files",
    ]


def test_the_traced_run_leaves_nothing_behind(project: Path, traced: dict[str, Any]) -> None:
    runs = project / "logs" / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    status = run(["git", "status", "--porcelain"], cwd=project)
    assert_ok(status)
    assert status.stdout == ""


def test_a_run_that_fails_before_fit_is_an_error(project: Path) -> None:
    result = run([sys.executable, SCRIPT, project, "--", "model=nope"])
    assert result.returncode == 1
    assert "model=nope is not an option" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: the run ended")
    assert result.stdout == ""


def test_docstrings_are_not_code_lines(project: Path, traced: dict[str, Any]) -> None:
    # Python runs a module's docstring as a statement; the code lines leave it out.
    package = "src/traced_project"
    assert (project / package / "data" / "__init__.py").read_text().startswith('"""')
    assert f"{package}/data/__init__.py" not in traced["files"]  # a docstring and nothing else
    for path, numbers in traced["lines"].items():
        if (project / path).read_text().startswith('"""'):
            assert 1 not in numbers, f"{path}'s docstring counted"
