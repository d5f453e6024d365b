"""The pre-generation hook turns away names that would break the project, and leaves no trace."""

import sys
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from tests.helpers import TEMPLATE_ROOT, run

BAD_NAMES = [
    ("package_name", "torch"),  # shadows a dependency
    ("package_name", "class"),  # keyword
    ("package_name", "random"),  # shadows the standard library
    ("package_name", "1abc"),  # not an identifier
    ("package_name", "My-Pkg"),  # not an identifier, not lowercase
    ("package_name", "test"),  # clashes with the layout
    ("package_name", "train"),  # clashes with train.py
    ("package_name", "export"),  # clashes with export.py
    ("project_slug", "-bad-"),  # not a distribution name
    ("project_slug", "has space"),  # not a distribution name, nor a sane folder
    ("project_slug", "Lightning"),  # a dependency's distribution name
    ("project_slug", "hydra_core"),  # the same as hydra-core once normalised
]


@pytest.mark.parametrize(("key", "value"), BAD_NAMES)
def test_bad_name_is_rejected_without_leftovers(
    key: str,
    value: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    cookiecutter_config: dict[str, Any],
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(TEMPLATE_ROOT),
            no_input=True,
            extra_context={key: value},
            output_dir=str(tmp_path),
            default_config=cookiecutter_config,
        )
    # The hook runs as a child process writing straight to fd 2, hence capfd.
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, errors
    assert f"{key} {value!r}" in errors[0]
    assert f"e.g. {key}=" in errors[0], "the message should suggest a valid name"
    assert list(tmp_path.iterdir()) == []


def test_command_line_bake_reports_bad_name(tmp_path: Path) -> None:
    config = tmp_path / "cookiecutterrc.yaml"
    config.write_text(f"replay_dir: {tmp_path / 'replay'}\n")
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    command = [sys.executable, "-m", "cookiecutter", "--no-input", TEMPLATE_ROOT]
    result = run(
        [*command, "-o", output_dir, "--config-file", config, "package_name=torch"],
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "ERROR: package_name 'torch' would shadow the 'torch' module" in result.stderr
    assert list(output_dir.iterdir()) == []
