"""Checks shared by the template tests: reading baked trees, linting them, running commands."""

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

# Unrendered Jinja: `{{` or `{%`. GitHub Actions' `${{ ... }}` is the one legitimate survivor.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%")


def run(
    command: Sequence[str | Path],
    cwd: Path | None = None,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command`, capturing output, without the outer pytest's options leaking into it.

    `env` adds or overrides variables of this process's environment.
    """
    outer = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env = outer | (env or {})
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess[str], tail: int = 6000) -> None:
    """Fail with the command and the end of its output when it exited non-zero."""
    if result.returncode != 0:
        output = (result.stdout + "\n" + result.stderr)[-tail:]
        command = " ".join(result.args)
        raise AssertionError(f"`{command}` exited {result.returncode}:\n{output}")


def project_paths(root: Path) -> list[Path]:
    """Every path under `root` except git's own database (bakes start as git repositories)."""
    return [p for p in sorted(root.rglob("*")) if ".git" not in p.relative_to(root).parts]


def text_files(root: Path) -> dict[Path, str]:
    """Every UTF-8 file under `root`, keyed by its path relative to `root`."""
    files = {}
    for path in project_paths(root):
        if path.is_file():
            try:
                files[path.relative_to(root)] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return files


def snapshot(root: Path) -> dict[Path, bytes | None]:
    """Every path under `root` with its content (None for folders), for comparing trees."""
    return {
        path.relative_to(root): path.read_bytes() if path.is_file() else None
        for path in project_paths(root)
    }


def find_in_tree(root: Path, pattern: re.Pattern[str]) -> list[str]:
    """`path` or `path:line: text` for each path and line under `root` matching `pattern`."""
    hits = [str(p.relative_to(root)) for p in project_paths(root) if pattern.search(p.name)]
    for relative, text in text_files(root).items():
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                hits.append(f"{relative}:{number}: {line.strip()}")
    return hits


def assert_ruff_clean(project: Path) -> None:
    """The baked project passes its own lint and format configuration."""
    for command in (["check"], ["format", "--check"]):
        assert_ok(run([sys.executable, "-m", "ruff", *command, "--no-cache", "."], cwd=project))


def load_pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


def unmet_requirements(requirements: Sequence[str]) -> list[str]:
    """The requirements the running environment does not satisfy, each with the reason."""
    unmet = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            unmet.append(f"{line} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{line} (installed: {installed})")
    return unmet


@dataclass(frozen=True)
class Venv:
    """A virtual environment holding one baked project."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(
        self, *args: str, cwd: Path, timeout: float = 1800, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run this venv's Python with `args`, e.g. `venv.run("-m", "pytest", cwd=project)`."""
        return run([self.python, *args], cwd=cwd, timeout=timeout, env=env)


Bake = Callable[..., Path]
MakeVenv = Callable[..., Venv]
