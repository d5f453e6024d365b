"""Training end to end, in-process: the composed config -> train() -> metrics and files."""

import json
from pathlib import Path

import pytest
import torch

from {{ cookiecutter.package_name }}.config import instantiate
from {{ cookiecutter.package_name }}.tools.plain_pytorch import fit_by_hand, fit_with_nn, least_squares
from {{ cookiecutter.package_name }}.training import train

from .conftest import compose_config


def test_fast_dev_run(make_config, tmp_path: Path) -> None:
    metrics = train(make_config("trainer.fast_dev_run=true"))
    assert {"val/loss", "test/loss", "test/r2"} <= set(metrics)
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(metrics)


def test_mlp_trains_and_callbacks_none_means_none(make_config, tmp_path: Path) -> None:
    metrics = train(make_config("model=mlp", "trainer.max_epochs=3", "callbacks=none"))
    assert metrics["val/r2"] > 0.5
    assert not list(tmp_path.rglob("*.ckpt")), "not even the checkpoint Lightning adds by itself"


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory: pytest.TempPathFactory):
    """The default config (linear regression, SGD) trained once on the CPU."""
    output_dir = tmp_path_factory.mktemp("linear")
    cfg = compose_config(output_dir, "model=linear", "trainer=cpu")
    metrics = train(cfg)
    [best] = (output_dir / "checkpoints").glob("best-*.ckpt")  # the weights the run tested
    state = torch.load(best, weights_only=True)["state_dict"]
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    # The whole training split as the model saw it: standardised features, float32 tensors.
    features = datamodule.eval_transform(datamodule.train_set.features)
    targets = datamodule.target_transform(datamodule.train_set.targets)
    return cfg, metrics, state["net.weight"], state["net.bias"], datamodule, features, targets


def test_linear_fit_matches_least_squares(linear_run) -> None:
    _, metrics, weight, bias, _, features, targets = linear_run
    exact_weight, exact_bias = least_squares(features, targets)
    # SGD ends within 0.01 of the optimum (weights are O(1) on standardised features).
    torch.testing.assert_close(weight, exact_weight, atol=0.01, rtol=0)
    torch.testing.assert_close(bias, exact_bias, atol=0.01, rtol=0)
    assert metrics["test/r2"] > 0.99


def test_linear_fit_recovers_the_generating_weights(linear_run) -> None:
    _, _, weight, bias, datamodule, _, _ = linear_run
    standardize = datamodule.eval_transform.transforms[-1]
    # Undo the standardisation: w.(x - m)/s + b = (w/s).x + (b - (w/s).m)
    raw_weight = weight / standardize.std
    raw_bias = bias - raw_weight @ standardize.mean
    problem = datamodule.problem
    torch.testing.assert_close(raw_weight, torch.as_tensor(problem.weight), atol=0.02, rtol=0)
    torch.testing.assert_close(raw_bias, torch.as_tensor(problem.bias), atol=0.05, rtol=0)


def test_plain_pytorch_loops_reach_the_lightning_solution(linear_run) -> None:
    cfg, _, weight, bias, datamodule, features, targets = linear_run
    settings = {
        "lr": cfg.model.optimizer.lr,
        "epochs": cfg.trainer.max_epochs,
        "batch_size": cfg.data.batch_size,
    }
    hand_weight, hand_bias = fit_by_hand(features, targets, **settings)
    model = fit_with_nn(datamodule.train_set, **settings)
    for w, b in [(hand_weight, hand_bias), (model.weight.detach(), model.bias.detach())]:
        torch.testing.assert_close(w, weight, atol=0.02, rtol=0)
        torch.testing.assert_close(b, bias, atol=0.02, rtol=0)


def test_same_seed_same_run_different_seed_different_run(tmp_path: Path) -> None:
    overrides = ("trainer.max_epochs=2", "callbacks=none", "logger=none", "test=false")
    first, second, other = (
        train(compose_config(tmp_path / name, f"seed={seed}", *overrides))
        for name, seed in [("a", 1), ("b", 1), ("c", 2)]
    )
    assert first == second
    assert first["train/loss"] != other["train/loss"]


def test_logistic_regression_on_digits(make_config) -> None:
    cfg = make_config("data=digits", "model=linear", "trainer.max_epochs=3", "callbacks=none")
    metrics = train(cfg)
    assert {"test/acc", "test/f1", "val/acc_best"} <= set(metrics)
    assert metrics["test/acc"] > 0.85


@pytest.mark.slow
def test_cnn_reaches_95_percent_on_digits_in_its_default_epochs(make_config) -> None:
    """The acceptance bar: `python train.py data=digits model=cnn` as configured, on the CPU."""
    metrics = train(make_config("data=digits", "model=cnn", "trainer=cpu", "logger=none"))
    assert metrics["test/acc"] >= 0.95
