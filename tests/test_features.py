"""Optional capabilities: each one answered no leaves no trace in the bake, which still lints,
type-checks and passes its fast suite; the default answers (all yes) are test_default_bake.py's.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from tests.helpers import (
    JINJA_LEFTOVER,
    TEMPLATE_ROOT,
    Bake,
    MakeVenv,
    assert_ok,
    assert_ruff_clean,
    find_in_tree,
    load_pyproject,
    run,
)

DEFAULTS: dict[str, Any] = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())

# What each capability leaves in a bake, and nothing else does: its modules, config groups and
# options, dependencies, extras, console script and make targets, in any file or file name.
MARKERS: dict[str, list[str]] = {
    "search": [
        r"optuna",
        r"hparams_search",
        r"sweep_summary",
        r"pruning",
        r"\.search\b(?!\()",  # the subpackage, not re.search(
        r"test_search",
        r"make (sweep|dashboard)",
        r"[\w.-]\[sweeps[],]|,sweeps\b|sweeps = \[",  # the extra
    ],
    "cluster": [r"submitit", r"launcher[=/](slurm|local)", r"\bcluster\b"],
    "export": [
        r"onnxscript",  # serve reads ONNX files too, through onnxruntime alone
        r"torch\.onnx",
        r"format=onnx",
        r"import onnx$",
        r"export\.py",
        r"export_main",
        r"torch_export",
        r"torch\.export",
        r"ExportConf",
        r"ExportError",
        r"export_schema",
        r"cli\.export",
        r"-export\b",
        r"\[export[],]|,export\]|export = \[",  # the extra
    ],
    "serve": [
        r"litserve",
        r"LIT_SERVER_API_KEY",
        r"serve\.py",
        r"serve\.yaml",
        r"serve_main",
        r"serve_schema",
        r"ServeConf",
        r"\.serving\b",
        r"serving\.py",
        r"-serve\b",
        r"make serve",
        r"\[serve[],]|,serve\]|serve = \[",  # the extra
    ],
    "images": [
        r"mnist",
        r"resnet",
        r"ImageFolder",
        r"data\.folder",
        r"folder\.py",
        r"finetuning",
        r"pillow",
        r"\bPIL\b",
        r"data=images",
        r"images\.yaml",
        r"image_files",
        r"write_image_folder",
    ],
    "wandb": [r"wandb", r"W&B", r"Weights (&|and) Biases"],
    "tensorboard": [r"tensorboard"],
    "mlflow": [r"mlflow"],
}
FEATURES = list(MARKERS)
ALL_OFF = dict.fromkeys(FEATURES, "no")
# The all-off bake also carries another name, for tests/test_custom_names.py.
OTHER_NAME = {"project_name": "Acme Rocket Science"}
# Each capability off alone, and all of them off together.
VARIANTS = {f"no-{feature}": {feature: "no"} for feature in FEATURES} | {"all-off": ALL_OFF}


def test_every_feature_is_a_yes_no_prompt_defaulting_to_yes() -> None:
    for feature in FEATURES:
        assert DEFAULTS[feature] is True, feature
        assert feature in DEFAULTS["__prompts__"]
    trackers = set(DEFAULTS["default_logger"]) - {"csv"}
    assert trackers <= set(FEATURES)  # every tracker besides CSV can be left out


@pytest.fixture(scope="module")
def variants(bake: Bake) -> dict[str, Path]:
    return {name: bake(**answers) for name, answers in VARIANTS.items()}


def markers_in(project: Path, feature: str) -> list[str]:
    """Every file name and line of `project` holding a marker of `feature`, except the answer
    itself in .cookiecutter.json (`"search": false`), which replays and updates need."""
    pattern = re.compile("|".join(MARKERS[feature]), re.IGNORECASE)
    answer = re.compile(rf'^\.cookiecutter\.json:\d+: "{feature}": (true|false),?$')
    return [hit for hit in find_in_tree(project, pattern) if not answer.match(hit)]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_feature_left_out_leaves_no_trace(variants: dict[str, Path], name: str) -> None:
    project = variants[name]
    assert find_in_tree(project, JINJA_LEFTOVER) == []
    for feature, answer in VARIANTS[name].items():
        assert answer == "no"
        assert markers_in(project, feature) == [], f"{feature}=no left these behind"


@pytest.mark.parametrize("feature", FEATURES)
def test_the_default_bake_holds_every_feature(bake: Bake, feature: str) -> None:
    # The markers find what they look for: each shows up when the feature is on.
    assert markers_in(bake(init_git="no"), feature)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_bake_without_features_is_ruff_clean(variants: dict[str, Path], name: str) -> None:
    assert_ruff_clean(variants[name])


def test_extras_follow_the_answers(variants: dict[str, Path]) -> None:
    all_off = load_pyproject(variants["all-off"])
    assert all_off["project"].get("optional-dependencies", {}) == {}
    assert not [line for line in all_off["dependency-groups"]["dev"] if line.startswith("my-")]
    no_wandb = load_pyproject(variants["no-wandb"])
    one = no_wandb["project"]["optional-dependencies"]
    assert "wandb" not in one and {"tensorboard", "mlflow", "all-loggers"} <= set(one)
    dev = no_wandb["dependency-groups"]["dev"]
    assert "my-project[sweeps,cluster,all-loggers,export,serve]" in dev


@pytest.mark.parametrize("tracker", sorted(set(DEFAULTS["default_logger"]) - {"csv"}))
def test_default_logger_must_be_a_tracker_kept(
    tracker: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    cookiecutter_config: dict[str, Any],
) -> None:
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(TEMPLATE_ROOT),
            no_input=True,
            extra_context={tracker: "no", "default_logger": tracker},
            output_dir=str(tmp_path),
            default_config=cookiecutter_config,
        )
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert errors == [
        f"ERROR: default_logger {tracker!r} is a tracker this project leaves out ({tracker}=no);"
        f" answer {tracker}=yes, or choose one of: "
        + ", ".join(["csv", *(t for t in ("wandb", "tensorboard", "mlflow") if t != tracker)])
    ]
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VARIANTS))
def test_bake_without_features_type_checks_and_passes_its_fast_suite(
    bake: Bake, baked_venv: MakeVenv, mypy_cache: Path, name: str
) -> None:
    other_name = OTHER_NAME if name == "all-off" else {}
    # A bake of its own: the suite writes logs into it.
    project = bake(init_git="no", **VARIANTS[name], **other_name)
    mypy = [sys.executable, "-m", "mypy", "--cache-dir", mypy_cache]
    assert_ok(run(mypy, cwd=project))
    venv = baked_venv(project)
    env = {"WANDB_MODE": "offline"}
    result = run(["make", "test", f"PYTHON={venv.python}"], cwd=project, env=env, timeout=1800)
    assert_ok(result)
    assert " passed" in result.stdout and "deselected" in result.stdout  # slow tests skipped
    if name == "all-off":  # with nothing optional, the project trains, evaluates and predicts
        assert_ok(venv.run("train.py", "trainer.max_epochs=1", cwd=project, env=env))
        for script in ("eval.py", "predict.py"):
            assert_ok(venv.run(script, "ckpt_path=last", cwd=project, env=env))
