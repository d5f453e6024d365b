"""A checkpoint says what it holds: eval.py, predict.py and the others need no overrides typed
again, and what the data learnt in training comes with it."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.data.digits import DigitsDataModule
from {{ cookiecutter.package_name }}.errors import ConfigError, DataError
from {{ cookiecutter.package_name }}.evaluation import evaluate
from {{ cookiecutter.package_name }}.prediction import predict
from {{ cookiecutter.package_name }}.runs import RUN_CONFIG
from {{ cookiecutter.package_name }}.runs.checkpoints import apply_settings, from_checkpoint, read_checkpoint
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config

DIGITS = ("data=digits", "model=cnn", "model.net.channels=[4]", "data.image_size=[10,10]")
QUICK = ("trainer.max_epochs=2", "logger=none", "callbacks=model_checkpoint")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("digits")
    return run_dir, train(compose_config(run_dir, *DIGITS, *QUICK, "data.standardize=true"))


def test_a_checkpoint_holds_its_run_config_and_its_data_state(digits_run) -> None:
    run_dir, _ = digits_run
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")  # weights_only
    assert checkpoint[RUN_CONFIG]["model"]["net"]["_target_"].endswith("models.cnn.CNN")
    assert checkpoint[RUN_CONFIG]["data"]["image_size"] == [10, 10]
    state = checkpoint["DigitsDataModule"]
    assert state["classes"] == [str(i) for i in range(10)]
    assert state["sample_shape"] == [1, 8, 8] and state["sample_dtype"] == "uint8"
    assert state["fitted"]["mean"].shape == (1,)  # the training pixels' statistics


def test_eval_of_any_checkpoint_needs_no_overrides(digits_run, tmp_path: Path) -> None:
    run_dir, metrics = digits_run
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    evaluated = evaluate(compose_config(tmp_path, f"ckpt_path={best}", "logger=none"))
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_command_line_keys_apply_on_top_and_group_choices_must_agree(
    digits_run, tmp_path: Path
) -> None:
    run_dir, _ = digits_run
    last = run_dir / "checkpoints" / "last.ckpt"
    settings = read_checkpoint(last)[RUN_CONFIG]
    overrides = ["data=digits", "data.batch_size=7", "+data.mean=[0.5]", "model.optimizer.lr=0.5"]
    cfg = compose_config(tmp_path, f"ckpt_path={last}", *overrides)
    apply_settings(cfg, settings, overrides)
    assert cfg.data.batch_size == 7 and cfg.model.optimizer.lr == 0.5
    assert cfg.data.image_size == [10, 10] and cfg.data.mean == [0.5]
    assert cfg.model.net.channels == [4]  # the run's, not model=cnn's default
    for choice in ("model=mlp", "data=regression"):
        cfg = compose_config(tmp_path, f"ckpt_path={last}", choice)
        with pytest.raises(ConfigError, match=f"{choice}: the checkpoint holds a model trained"):
            apply_settings(cfg, settings, [choice])


def test_an_older_checkpoint_finds_its_settings_in_its_run_folder(digits_run, tmp_path) -> None:
    run_dir, _ = digits_run
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    del checkpoint[RUN_CONFIG], checkpoint["DigitsDataModule"]  # what older versions lacked
    copy = tmp_path / "run" / "checkpoints" / "old.ckpt"
    copy.parent.mkdir(parents=True)
    torch.save(checkpoint, copy)
    (tmp_path / "run" / "config_resolved.yaml").write_text(
        (run_dir / "config_resolved.yaml").read_text()
    )
    cfg, _, _ = from_checkpoint(compose_config(tmp_path, f"ckpt_path={copy}"))
    assert cfg.data._target_.endswith("DigitsDataModule") and cfg.model.net.channels == [4]
    # Its splits are still predicted (statistics from the data, as then); new inputs are not.
    predict_cfg = compose_config(tmp_path / "p", f"ckpt_path={copy}", config_name="predict")
    assert len(predict(predict_cfg).read_text().splitlines()) == 1 + round(1797 * 0.2)
    inputs_cfg = compose_config(tmp_path / "p2", f"ckpt_path={copy}", config_name="predict")
    with open_dict(inputs_cfg):
        inputs_cfg.input = str(tmp_path)
    with pytest.raises(ConfigError, match="holds no state of DigitsDataModule"):
        predict(inputs_cfg)


def test_the_data_state_replaces_what_the_data_would_compute(digits_run, tmp_path) -> None:
    run_dir, _ = digits_run
    state = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["DigitsDataModule"]
    trained = instantiate(compose_config(tmp_path, *DIGITS).data)  # as in the run
    trained.setup()
    fresh = DigitsDataModule(image_size=[10, 10])
    fresh.load_state_dict(state)  # no data loaded: what read_inputs() transforms with
    images = trained.test_set.features[:5]
    torch.testing.assert_close(fresh.eval_transform(images), trained.eval_transform(images))
    other = DigitsDataModule(image_size=[10, 10], test_fraction=0.5)  # other training pixels
    other.setup()
    assert not torch.equal(other.eval_transform(images), trained.eval_transform(images))
    other.load_state_dict(state)  # as Lightning does after setup() when it tests a checkpoint
    torch.testing.assert_close(other.eval_transform(images), trained.eval_transform(images))
    assert other.test_set.transform is other.eval_transform


def test_a_checkpoint_of_other_classes_is_refused(digits_run) -> None:
    run_dir, _ = digits_run
    state = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["DigitsDataModule"]
    dm = DigitsDataModule()
    dm.setup()
    with pytest.raises(DataError, match="are not the checkpoint's"):
        dm.load_state_dict(state | {"classes": ["cat", "dog"]})


def test_the_data_state_saves_what_new_inputs_need(make_config) -> None:
    dm = instantiate(make_config().data)
    assert dm.state_dict() == {}  # nothing learnt before setup
    dm.setup()
    state = dm.state_dict()
    assert state["sample_shape"] == [8] and state["sample_dtype"] == "float32"
    np.testing.assert_allclose(state["fitted"]["mean"], dm.train_set.features.mean(0), rtol=1e-5)
