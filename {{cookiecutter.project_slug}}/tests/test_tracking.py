"""The CSV log every run keeps, .env, and what a run without the other trackers imports."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (
    PROJECT_ROOT,
    run_script,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHORT_RUN = ("trainer.max_epochs=2", "callbacks=none", "test=false")


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100


@pytest.mark.slow
def test_dot_env_sets_only_the_variables_not_already_set(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nPROJECT_ROOT=from-dotenv  # a note\nexport RUN_LABEL='two # words'\n"
    )
    printed = run_script(
        tmp_path, "train.py", "--cfg", "job", "--resolve", "+label=${oc.env:RUN_LABEL}"
    )
    assert printed.returncode == 0, printed.stderr
    assert "root_dir: from-dotenv" in printed.stdout and "label: 'two # words'" in printed.stdout
    kept = run_script(tmp_path, "train.py", "--cfg", "job", "--resolve", PROJECT_ROOT="mine")
    assert kept.returncode == 0, kept.stderr
    assert "root_dir: mine" in kept.stdout  # variables already set win


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh HOME without credentials; each tracker's tests add what keeps it offline."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(os.environ) | {"HOME": str(home), "NETRC": str(home / ".netrc")} | extra


def run_train(
    cwd: Path, env: dict[str, str], *overrides: str, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *python_flags, str(PROJECT_ROOT / "train.py"), *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.slow
def test_csv_run_imports_no_optional_tracker(tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    flags = ("-X", "importtime")
    result = run_train(tmp_path, env, "logger=csv", "trainer.max_epochs=2", python_flags=flags)
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, re.MULTILINE)
    assert "lightning" in imported  # the import log was captured
    # The other loggers of conf/logger/ are named after the package each needs.
    options = {path.stem for path in (PROJECT_ROOT / "conf" / "logger").glob("*.yaml")}
    optional = tuple(options - {"csv", "many", "none"})
    assert [name for name in imported if name.split(".")[0].lower().startswith(optional)] == []
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    assert_png(run_dir / "metrics.png")
