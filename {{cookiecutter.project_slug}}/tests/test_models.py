from functools import partial

import lightning as L
import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from {{ cookiecutter.package_name }}.data import SyntheticRegressionDataModule
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.models import MLP, SupervisedModule


def make_module(**overrides) -> SupervisedModule:
    kwargs = {
        "net": nn.Linear(4, 1),
        "loss": nn.MSELoss(),
        "optimizer": partial(torch.optim.SGD, lr=0.05),
    } | overrides
    return SupervisedModule(**kwargs)


def test_mlp_maps_features_to_outputs() -> None:
    net = MLP(in_features=6, out_features=2, hidden_sizes=[16, 8], activation="GELU", dropout=0.1)
    assert net(torch.randn(5, 6)).shape == (5, 2)
    assert sum(isinstance(m, nn.GELU) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2


def test_mlp_rejects_an_unknown_activation() -> None:
    with pytest.raises(ConfigError, match="model.net.activation='Relu'"):
        MLP(in_features=2, out_features=1, activation="Relu")


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
    module = make_module()
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
    assert torch.cat(predictions).shape == (len(datamodule.test_set), 1)
    # Checkpoints hold plain values only, so PyTorch's safe loader reads them.
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["hyper_parameters"]["monitor"] == "val/loss"
    assert "net.weight" in checkpoint["state_dict"]
