"""`python train.py` as a user runs it, in a fresh process."""

import csv
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.cli.startup import LIBRARY_WARNINGS, hide_library_warnings
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT, error_line, run_script

pytestmark = pytest.mark.slow


def test_train_writes_a_complete_run_directory(tmp_path: Path) -> None:
    result = run_script(tmp_path, "train.py", "model=linear", "trainer=cpu", "trainer.max_epochs=5")
    assert result.returncode == 0, result.stderr
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "train.log").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert len(list((run_dir / "checkpoints").glob("best-epoch*.ckpt"))) == 1
    header = (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "step", "val/loss"} <= set(header)
    assert (run_dir / "metrics.json").is_file()
    assert "Final metrics" in result.stdout and "test/r2" in result.stdout
    log_text = (run_dir / "train.log").read_text()
    assert str(run_dir.resolve()) in log_text
    assert "GPU available:" in log_text, "Lightning's own messages belong in train.log too"
    output = result.stdout + result.stderr
    assert output.count("GPU available:") == 1, "each Lightning line is printed once"
    assert result.stderr == "", "no warning the user cannot act on (cli/startup.py)"
    # The run reports the best monitored value, the one of the checkpoint it tested.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with (run_dir / "csv" / "metrics.csv").open() as file:
        val_losses = [float(row["val/loss"]) for row in csv.DictReader(file) if row["val/loss"]]
    assert metrics["val/loss_best"] == pytest.approx(min(val_losses), rel=1e-5)


def test_each_hidden_library_warning_still_occurs_and_only_from_its_library(make_config) -> None:
    """A filter of cli/startup.py goes once its library is fixed (this fails then); the same
    warning raised by the project's own code still shows."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(make_config("trainer.max_epochs=1", "logger=none"))
    raised = {(w.category, Path(w.filename).as_posix(), str(w.message)) for w in caught}
    for category, module, message in LIBRARY_WARNINGS:
        where = module.replace(".", "/") + ".py"
        assert any(
            issubclass(kind, category) and path.endswith(where) and text == message
            for kind, path, text in raised
        ), f"{module} no longer warns {message!r}: remove its filter"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hide_library_warnings()
        for category, _, message in LIBRARY_WARNINGS:
            warnings.warn(message, category, stacklevel=1)
    assert [str(w.message) for w in caught] == [message for *_, message in LIBRARY_WARNINGS]


def test_python_dash_m_runs_training(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "{{ cookiecutter.package_name }}",
            "trainer.max_epochs=1",
            "logger=none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Final metrics" in result.stdout


def test_a_failure_after_training_started_keeps_the_run_and_its_log(tmp_path: Path) -> None:
    # The learning rate grows 10^4-fold per epoch: the loss diverges in the second epoch.
    result = run_script(
        tmp_path,
        "train.py",
        "+model.scheduler._target_=torch.optim.lr_scheduler.ExponentialLR",
        "+model.scheduler._partial_=true",
        "+model.scheduler.gamma=10000",
    )
    assert "the training loss became" in error_line(result)
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    log_text = (run_dir / "train.log").read_text()
    assert "Stopped: the training loss became" in log_text and "Traceback" in log_text


def test_print_config_without_running(tmp_path: Path) -> None:
    result = run_script(tmp_path, "train.py", "--cfg", "job", "model=mlp")
    assert result.returncode == 0, result.stderr
    assert "hidden_sizes" in result.stdout and "_target_" in result.stdout
    assert not (tmp_path / "logs").exists()


def test_runs_started_together_get_their_own_directories(tmp_path: Path) -> None:
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), "trainer.max_epochs=1"]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()
    run_dirs = list((tmp_path / "logs" / "runs").iterdir())
    assert len(run_dirs) == 2
    assert all((run_dir / "metrics.json").is_file() for run_dir in run_dirs)


def test_train_digits_and_a_csv_from_the_command_line(tmp_path: Path) -> None:
    result = run_script(tmp_path, "train.py", "data=digits", "model=linear", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr
    assert "test/acc" in result.stdout and "test/f1" in result.stdout
    table = tmp_path / "table.csv"
    table.write_text("x,y\n" + "".join(f"{i},{3 * i + 1}\n" for i in range(50)))
    result = run_script(
        tmp_path, "train.py", "data=csv", f"data.path={table}", "data.target_column=y"
    )
    assert result.returncode == 0, result.stderr
    assert "test/r2" in result.stdout


# What a job needs and the command line must not load: --help, --cfg job and completion
# compose the config with Hydra alone.
# Besides the training stack, every package the project's extras name (trackers and the like).
PYPROJECT = (PROJECT_ROOT / "pyproject.toml").read_text()
EXTRAS = PYPROJECT.split("[project.optional-dependencies]")[-1].split("\n[")[0]
OWN_NAME = re.findall(r'^name = "([^"]+)"', PYPROJECT, re.M)[0]  # extras naming other extras
HEAVY = {"torch", "lightning", "matplotlib", "sklearn"} | {
    name.lower().replace("-", "_")
    for name in re.findall(r'"([A-Za-z][\w.-]*?)[<>=~!\[;" ]', EXTRAS)  # one-line extras too
    if name != OWN_NAME
}


def imported(*args: str, cwd: Path, **env: str) -> set[str]:
    """The top-level packages `python <args>` imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ | env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {m.split(".")[0] for m in re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, re.M)}


MODELS = sorted(path.stem for path in (PROJECT_ROOT / "conf" / "model").glob("*.yaml"))
COMPLETION = {"COMP_LINE": "python train.py model=", "COMP_POINT": "22"}
QUICK_COMMANDS = {
    "--help": ("--help",),
    "--cfg job": ("--cfg", "job", "model=mlp"),
    "completion": ("-sc", "query=bash"),
}


@pytest.mark.parametrize("name", QUICK_COMMANDS)
def test_help_config_and_completion_import_no_training_stack(name: str, tmp_path: Path) -> None:
    """They compose the config with Hydra alone: no torch, no Lightning (seconds saved)."""
    args = (str(PROJECT_ROOT / "train.py"), *QUICK_COMMANDS[name])
    packages = imported(*args, cwd=tmp_path, **COMPLETION)
    assert {"hydra", "omegaconf"} <= packages  # the measurement sees imports at all
    assert packages & HEAVY == set()
    assert not (tmp_path / "logs").exists()


GC_CHECK = """
import gc, json, sys
from {{ cookiecutter.package_name }}.cli.startup import import_lightning
sys.path.insert(0, "broken")  # a lightning.py that raises: a failed import leaves GC on
try:
    import_lightning()
except ImportError:
    failed = gc.isenabled()
sys.path.remove("broken")
collections = [generation["collections"] for generation in gc.get_stats()]
import_lightning()
collected = [generation["collections"] for generation in gc.get_stats()] != collections
frozen = gc.get_freeze_count()
import_lightning()  # a multirun's next job: its garbage stays collectable
print(json.dumps([failed, collected, gc.isenabled(), frozen, gc.get_freeze_count()]))
"""


def test_lightning_is_imported_once_and_left_out_of_garbage_collection(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "lightning.py").write_text("raise ImportError('broken')\n")
    result = subprocess.run(
        [sys.executable, "-c", GC_CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    enabled_after_failure, collected, enabled, frozen, frozen_again = json.loads(result.stdout)
    assert enabled_after_failure and enabled
    assert not collected, "no garbage collection while Lightning is imported"
    assert frozen > 100_000, "torch's and Lightning's objects are frozen"
    assert frozen_again == frozen


def test_help_is_the_projects_own_page(tmp_path: Path) -> None:
    result = run_script(tmp_path, "train.py", "--help", "seed=7")
    assert result.returncode == 0, result.stderr
    page = result.stdout
    for heading in ("== Groups (group=option) ==", "== Top-level options ==", "== Examples =="):
        assert heading in page
    groups = sorted(path.name for path in (PROJECT_ROOT / "conf").iterdir() if path.is_dir())
    assert f"model: {', '.join(MODELS)}" in page
    assert all(f"{group}: " in page for group in groups if group not in ("hydra", "local"))
    assert "seed=7 " in page  # the values this command line gives
    assert "schema" not in page and "powered by Hydra" not in page
    examples = [line for line in page.splitlines() if line.startswith("python ")]
    assert len(examples) >= 12
    assert "eval.py [OVERRIDE ...]" in run_script(tmp_path, "eval.py", "--help").stdout


def test_bash_completion_for_python_train_py(tmp_path: Path) -> None:
    """The README's `eval "$(python train.py -sc install=bash)"`, then a TAB after `model=`."""
    line = "python train.py model="  # the cursor at its end, on the third word
    script = (
        'eval "$(python train.py -sc install=bash)"\n'
        f'COMP_LINE="{line}"; COMP_POINT={len(line)}; COMP_CWORD=2\n'
        "hydra_bash_completion\n"
        'echo "${COMPREPLY[@]}"\n'
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `python`: this one
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=PROJECT_ROOT,  # the completion runs ./train.py
        capture_output=True,
        text=True,
        env=os.environ | {"PATH": path},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"model={name}" for name in MODELS]
