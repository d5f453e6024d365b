"""The README's search recipe: a trial's checkpoint evaluates with no overrides."""

import json
from pathlib import Path

import pytest

from .conftest import error_line, run_script
from .test_recipes import QUIET, newest_run, ok

pytestmark = pytest.mark.slow


def test_eval_on_a_sweep_trials_checkpoint_needs_no_overrides(tmp_path: Path) -> None:
    ok(
        run_script(
            tmp_path,
            "train.py",
            "-m",
            "hparams_search=digits_optuna",
            "hydra.sweeper.n_trials=1",
            "trainer.max_epochs=2",
            "callbacks=model_checkpoint",
            *QUIET,
        )
    )
    [trial] = [p for p in (tmp_path / "logs" / "sweeps" / "digits_optuna").iterdir() if p.is_dir()]
    [best] = (trial / "checkpoints").glob("best-*.ckpt")
    output = ok(run_script(tmp_path, "eval.py", f"ckpt_path={best}"))  # an MLP on digits
    assert "Test metrics" in output and "test/acc" in output
    trained = json.loads((trial / "metrics.json").read_text())
    evaluated = json.loads((newest_run(tmp_path) / "metrics.json").read_text())
    assert evaluated["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    line = error_line(run_script(tmp_path, "eval.py", f"ckpt_path={best}", "model=cnn"))
    trained_with = "model.net._target_={{ cookiecutter.package_name }}.models.mlp.MLP"
    assert f"model=cnn: the checkpoint holds a model trained with {trained_with}" in line
