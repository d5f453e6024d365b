"""The package's import graph keeps its layers and has no cycles, as `lint-imports` (pre-commit,
CI, `make lint`) checks against [tool.importlinter] in pyproject.toml."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import PROJECT_ROOT

PACKAGE = next((PROJECT_ROOT / "src").glob("*/__init__.py")).parent


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package found in `src`, with the project's contracts."""
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(src), "COLUMNS": "200"},  # no wrapped lines
        check=False,
    )


def test_the_layers_hold_and_nothing_imports_in_a_cycle() -> None:
    result = lint_imports(PROJECT_ROOT / "src")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    package = shutil.copytree(PACKAGE, tmp_path / PACKAGE.name)
    with (package / "config" / "__init__.py").open("a") as file:
        file.write("\nfrom .. import training  # noqa: E402  (config may not import a flow)\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    name, printed = PACKAGE.name, " ".join(result.stdout.split())
    assert f"{name}.config is not allowed to import {name}.training" in printed
