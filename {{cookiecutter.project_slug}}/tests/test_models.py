from functools import partial
from typing import Any, cast

import lightning as L
import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from {{ cookiecutter.package_name }}.data.digits import DigitsDataModule
from {{ cookiecutter.package_name }}.data.regression import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.models.cnn import CNN
from {{ cookiecutter.package_name }}.models.linear import Linear
from {{ cookiecutter.package_name }}.models.mlp import MLP
from {{ cookiecutter.package_name }}.models.supervised import SupervisedModule, task_metrics


def make_module(
    task: str = "regression",
    input_shape: tuple[int, ...] = (4,),
    num_outputs: int = 1,
    **kwargs: Any,
) -> SupervisedModule:
    """A module built by hand for samples of `input_shape`, as the Trainer builds it for data."""
    settings: dict[str, Any] = {"net": Linear, "optimizer": partial(torch.optim.SGD, lr=0.05)}
    module = SupervisedModule(**(settings | kwargs))
    module.build(task, input_shape, num_outputs)
    return module


def test_mlp_maps_features_to_outputs() -> None:
    net = MLP((6,), num_outputs=2, hidden_sizes=[16, 8], activation="GELU", dropout=0.1)
    assert net(torch.randn(5, 6)).shape == (5, 2)
    assert sum(isinstance(m, nn.GELU) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2


def test_mlp_rejects_an_unknown_activation() -> None:
    with pytest.raises(ValueError, match="activation 'Relu' is not a torch.nn activation"):
        MLP((2,), num_outputs=1, activation="Relu")
    with pytest.raises(ConfigError, match="could not be built for samples of shape"):
        make_module(net=partial(MLP, activation="Relu"))  # one line for the command line


def test_forward_and_loss() -> None:
    module = make_module()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    preds = module(x)
    assert preds.shape == (8, 1)
    torch.testing.assert_close(module.loss(preds, y), ((preds - y) ** 2).mean())


def test_optimizer_is_built_from_the_partial_over_the_module_parameters() -> None:
    module = make_module()
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["lr"] == 0.05
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {
        id(p) for p in module.parameters()
    }


def test_scheduler_monitors_the_configured_metric() -> None:
    scheduler = partial(ReduceLROnPlateau, patience=1)
    config = make_module(scheduler=scheduler, monitor="val/r2").configure_optimizers()
    assert isinstance(config["lr_scheduler"]["scheduler"], ReduceLROnPlateau)
    assert config["lr_scheduler"]["monitor"] == "val/r2"


def test_training_logs_split_metrics_and_checkpoints_load_safely(tmp_path) -> None:
    datamodule = SyntheticRegressionDataModule(num_samples=200, num_features=4, batch_size=50)
    module = SupervisedModule(net=Linear, optimizer=partial(torch.optim.SGD, lr=0.05))
    trainer = L.Trainer(
        max_epochs=2,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)
    fit_metrics = set(trainer.logged_metrics)
    assert {"train/loss", "train/r2", "val/loss", "val/mse", "val/mae"} <= fit_metrics
    trainer.test(module, datamodule=datamodule)
    assert {"test/loss", "test/mse", "test/mae", "test/r2"} == set(trainer.logged_metrics)
    predictions = trainer.predict(module, dataloaders=datamodule.test_dataloader())
    outputs = torch.cat(cast(list[torch.Tensor], predictions))  # one loader: a list of batches
    assert outputs.shape == (len(datamodule.test_set), 1)
    # Checkpoints hold plain values only, so PyTorch's safe loader reads them.
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    hyper_parameters = checkpoint["hyper_parameters"]
    assert hyper_parameters["monitor"] == "val/loss"
    # The network was built for the data, and the checkpoint says for which.
    assert (hyper_parameters["input_shape"], hyper_parameters["num_outputs"]) == ([4], 1)
    assert "net.weight" in checkpoint["state_dict"]


def test_linear_and_mlp_flatten_images() -> None:
    images = torch.randn(5, 1, 8, 8)
    assert Linear((1, 8, 8), 10)(images).shape == (5, 10)
    assert isinstance(Linear((1, 8, 8), 10), nn.Linear)  # same parameters, same state-dict names
    assert MLP((1, 8, 8), num_outputs=10)(images).shape == (5, 10)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 7), (8,)])
def test_cnn_builds_for_any_input_shape(shape: tuple[int, ...]) -> None:
    net = CNN(input_shape=shape, num_outputs=4, channels=[4, 8])
    assert net(torch.randn(2, *shape)).shape == (2, 4)


def test_cnn_channels_last_gives_the_same_outputs() -> None:
    torch.manual_seed(0)
    plain = CNN(input_shape=(1, 8, 8), num_outputs=3)
    fast = CNN(input_shape=(1, 8, 8), num_outputs=3, channels_last=True)
    fast.load_state_dict(plain.state_dict())
    conv = fast.features[0]
    assert isinstance(conv, nn.Conv2d)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(fast(x), plain(x))


def test_cnn_rejects_a_shape_that_is_no_image() -> None:
    with pytest.raises(ValueError, match=r"input shape \[2, 8\] is not an image shape"):
        CNN(input_shape=(2, 8), num_outputs=2)


def test_loss_and_metrics_follow_the_task() -> None:
    module = make_module("classification", num_outputs=3)
    assert isinstance(module.loss, nn.CrossEntropyLoss)
    assert set(module.val_metrics.keys()) == {"val/acc", "val/f1"}
    regression = make_module()
    assert isinstance(regression.loss, nn.MSELoss)
    assert set(regression.val_metrics.keys()) == {"val/mse", "val/mae", "val/r2"}
    assert isinstance(make_module(loss=nn.L1Loss()).loss, nn.L1Loss)  # a configured loss wins


@pytest.mark.parametrize("num_outputs", [1, 3])
def test_regression_metrics_are_the_textbook_formulas(num_outputs: int) -> None:
    torch.manual_seed(0)
    target = torch.randn(64, num_outputs).squeeze(-1)
    preds = target + 0.3 * torch.randn_like(target)
    metrics = task_metrics("regression", num_outputs)
    metrics.update(preds, target)
    values = metrics.compute()
    errors = preds - target
    # R2 = 1 - SSE / SST per output, averaged over outputs (not the adjusted R2).
    sst = ((target - target.mean(dim=0)) ** 2).sum(dim=0)
    r2 = (1 - (errors**2).sum(dim=0) / sst).mean()
    torch.testing.assert_close(values["r2"], r2)
    torch.testing.assert_close(values["mse"], (errors**2).mean())
    torch.testing.assert_close(values["mae"], errors.abs().mean())


def test_classification_logs_accuracy_f1_and_the_best_validation_accuracy(tmp_path) -> None:
    datamodule = DigitsDataModule(augment=False, batch_size=128)
    module = SupervisedModule(net=Linear, optimizer=partial(torch.optim.SGD, lr=0.05))
    trainer = L.Trainer(
        max_epochs=3,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, datamodule=datamodule)
    metrics = trainer.callback_metrics
    assert {"train/acc", "train/f1", "val/acc", "val/f1", "val/acc_best"} <= set(metrics)
    assert metrics["val/acc_best"] >= metrics["val/acc"] > 0.8  # logistic regression on digits
    assert module.val_acc_best.compute() == metrics["val/acc_best"]
    # The epoch loss is the sample-weighted mean of the batch losses, over the whole split.
    x, y = datamodule.val_set.__getitems__(list(range(len(datamodule.val_set))))
    with torch.no_grad():
        expected = module.loss(module(x), y)
    torch.testing.assert_close(metrics["val/loss"], expected, atol=1e-5, rtol=1e-5)
