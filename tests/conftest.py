"""Fixtures that bake the template into temporary folders and install bakes in throwaway venvs."""

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cookiecutter.main import cookiecutter

from tests.helpers import TEMPLATE_ROOT, Bake, MakeVenv, Venv, assert_ok, run


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Cookiecutter settings that ignore ~/.cookiecutterrc and keep replay files out of $HOME."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    return {"replay_dir": str(home / "replay"), "cookiecutters_dir": str(home / "templates")}


@pytest.fixture(scope="session", autouse=True)
def bake_without_uv_lock() -> Iterator[None]:
    """Bakes skip the post-generation hook's `uv lock` (seconds and the network each time);
    tests/test_environment.py locks one bake itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BAKE_WITHOUT_UV_LOCK", "1")
        yield


@pytest.fixture(scope="session")
def bake(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: dict[str, Any]) -> Bake:
    """`bake(project_name="Acme")` renders the template with those answers; returns the project."""

    def _bake(**context: str) -> Path:
        project = cookiecutter(
            str(TEMPLATE_ROOT),
            no_input=True,
            extra_context=context,
            output_dir=str(tmp_path_factory.mktemp("bake")),
            default_config=cookiecutter_config,
        )
        return Path(project)

    return _bake


def _visible_site_dirs() -> list[str]:
    """Where this interpreter imports third-party packages from (its venv, maybe the system)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]


@pytest.fixture(scope="session")
def baked_venv(tmp_path_factory: pytest.TempPathFactory) -> MakeVenv:
    """`baked_venv(project)` installs a bake into a fresh venv that borrows this env's packages.

    `baked_venv(project, editable=False)` installs the built wheel instead, as `pip install .`.

    Installing torch and friends per bake would take minutes and gigabytes, so the venv gets no
    pip and a .pth file pointing at this interpreter's site-packages; only the baked project
    itself is installed into it, editable and without dependencies, by this interpreter's pip.
    """

    def _make(project: Path, editable: bool = True) -> Venv:
        venv = Venv(tmp_path_factory.mktemp(f"venv-{project.name}"))
        assert_ok(run([sys.executable, "-m", "venv", "--without-pip", venv.root]))
        where = venv.run(
            "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv.root
        )
        assert_ok(where)
        (Path(where.stdout.strip()) / "_outer_env.pth").write_text(
            "\n".join(_visible_site_dirs()) + "\n"
        )
        pip = [sys.executable, "-m", "pip", "--python", venv.python, "install", "--no-deps"]
        target = ["-e", project] if editable else [project]  # non-editable: a built wheel
        assert_ok(run([*pip, "--no-build-isolation", "--quiet", *target]))
        return venv

    return _make


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for every bake: bakes share the package name and most modules, so each
    run after the first checks only what differs (`mypy --cache-dir`, or MYPY_CACHE_DIR)."""
    return tmp_path_factory.mktemp("mypy-cache")


FENCE = re.compile(r"^ *```(?P<lang>\w+)\n(?P<body>.*?)^ *```", re.MULTILINE | re.DOTALL)


def recipe(readme: str, title: str) -> dict[str, str]:
    """The python and yaml blocks of one recipe ("**A model.**") of the README."""
    section = readme.split("## Adding your own", 1)[1].split("\n## ", 1)[0]
    text = section.split(f"**{title}**", 1)[1].split("\n**A ", 1)[0]
    blocks: dict[str, str] = {}
    for block in FENCE.finditer(text):
        indent = len(block.group(0)) - len(block.group(0).lstrip(" "))
        lines = [line[indent:] for line in block["body"].splitlines()]
        blocks.setdefault(block["lang"], "\n".join(lines) + "\n")
    return blocks


def add_table_row(readme: Path, group: str, option: str, what: str) -> None:
    """A row of the Configuration table, after the group's last row, as the recipes ask."""
    lines = readme.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith(f"| `{group}` |"))
    lines.insert(last + 1, f"| `{group}` | `{option}` | {what} |")
    readme.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def extended(bake: Bake, baked_venv: MakeVenv) -> tuple[Path, Venv]:
    """The default bake with a model and a dataset added as the README's "Adding your own"
    recipes say, installed: tests/test_extending.py trains them, and test_default_bake.py runs
    the whole baked suite on it, once for both."""
    project = bake()
    package = project / "src" / "my_project"
    readme = (project / "README.md").read_text()
    model, dataset = recipe(readme, "A model."), recipe(readme, "A dataset.")
    (package / "models" / "two_layer.py").write_text(model["python"])
    (project / "conf" / "model" / "two_layer.yaml").write_text(model["yaml"])
    (package / "data" / "npz.py").write_text(dataset["python"])
    (project / "conf" / "data" / "npz.yaml").write_text(dataset["yaml"])
    add_table_row(project / "README.md", "model", "two_layer", "a two-layer network")
    add_table_row(project / "README.md", "data", "npz", "features and targets from an .npz")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = x @ rng.normal(size=(5, 2)).astype(np.float32)  # two target columns
    np.savez(project / "data" / "arrays.npz", x=x, y=y)
    return project, baked_venv(project)
