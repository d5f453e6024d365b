"""Shared fixtures: configs composed in-process, exactly as `python train.py` composes them."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from {{ cookiecutter.package_name }}.config import config_dir, register_configs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(config_dir())
register_configs()  # the schemas and resolvers conf/*.yaml name, as the command line does


def compose_config(output_dir: Path, *overrides: str, config_name: str = "train") -> DictConfig:
    """conf/<config_name>.yaml with overrides; the run writes into output_dir, not logs/."""
    with initialize_config_dir(config_dir=CONFIG_DIR):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.root_dir = str(output_dir)
        cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    """`make_config("model=mlp", "trainer.max_epochs=2")` -> a config that writes to tmp_path."""
    return lambda *overrides: compose_config(tmp_path, *overrides)


@contextmanager
def running_job(cfg: DictConfig) -> Iterator[DictConfig]:
    """Makes `cfg` (composed with `return_hydra_config=True`) the running job's, as Hydra does."""
    HydraConfig().set_config(cfg)
    try:
        yield cfg
    finally:
        HydraConfig.instance().cfg = None


def run_script(
    cwd: Path, script: str, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """`python <script> <args>` in a fresh process, as a user runs it, from `cwd`."""
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | env,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one `Error: ...` line a failed command printed (exit 1, no traceback)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    return line


def console_script(name: str) -> list[str]:
    """The command of an installed console script (a server), run by this Python."""
    code = (
        "import sys; from importlib.metadata import entry_points;"
        f" [script] = entry_points(group='console_scripts', name={name!r});"
        f" sys.argv[0] = {name!r}; sys.exit(script.load()())"
    )
    return [sys.executable, "-c", code]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(command: list[str], url: str, timeout: float = 120) -> Iterator[subprocess.Popen]:
    """Runs a server until the block ends; the block starts once `url` answers 200."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None:
                    assert server.stderr is not None
                    raise AssertionError(f"{command[:3]} exited: {server.stderr.read()}") from None
                assert time.monotonic() < deadline, f"nothing answered at {url}"
                time.sleep(0.5)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET request."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


# Real multiruns, small and quick: a few hundred samples, two epochs, no checkpoints.
QUICK: tuple[str, ...] = ("trainer=cpu", "trainer.max_epochs=2", "data.num_samples=300")
QUICK += ("callbacks=none", "logger=none")


def run_train(cwd: Path, *overrides: str, full_error: bool = True) -> subprocess.CompletedProcess:
    """`python train.py -m <overrides>` in a fresh process, from `cwd`."""
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "train.py"), "-m", *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | {"HYDRA_FULL_ERROR": "1" if full_error else "0"},
        timeout=600,
    )
