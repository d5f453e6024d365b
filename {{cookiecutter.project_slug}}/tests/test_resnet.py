"""model=resnet18: torchvision's ResNet sized for the data, and the frozen-backbone schedule."""

import pytest
import torch

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.models.resnet import ResNet
from {{ cookiecutter.package_name }}.training import train


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_the_head_and_first_convolution_fit_the_data(channels: int) -> None:
    net = ResNet((channels, 32, 32), num_outputs=7)
    assert net.backbone.conv1.in_channels == channels and net.head.out_features == 7
    assert net(torch.randn(2, channels, 32, 32)).shape == (2, 7)
    assert net(torch.randn(2, channels, 8, 8)).shape == (2, 7)  # small images pool to 1x1


def test_tables_and_unknown_settings_get_one_line() -> None:
    with pytest.raises(ValueError, match=r"takes images \[C, H, W\]"):
        ResNet((8,), num_outputs=1)
    with pytest.raises(ConfigError, match="model.net.weights=IMAGENET is not a weight set of"):
        ResNet((3, 32, 32), num_outputs=2, weights="IMAGENET")
    with pytest.raises(ConfigError, match="model.net.arch=vgg11 is not a torchvision ResNet"):
        ResNet((3, 32, 32), num_outputs=2, arch="vgg11")


def test_resnet18_on_resized_digits_with_a_frozen_backbone_first(make_config, tmp_path) -> None:
    cfg = make_config(
        "data=digits",
        "data.image_size=[32,32]",
        "model=resnet18",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=none",
        "callbacks=[model_checkpoint,backbone_finetuning]",
        "callbacks.model_checkpoint.save_top_k=-1",  # every epoch's checkpoint
        "callbacks.backbone_finetuning.unfreeze_backbone_at_epoch=1",
    )
    assert "test/acc" in train(cfg)
    epochs = [
        torch.load(tmp_path / "checkpoints" / f"best-epoch{epoch:03d}.ckpt", weights_only=True)
        for epoch in (0, 1)
    ]
    # The callback's own record of the optimizer's parameter groups, by parameter name.
    groups = [
        next(v for k, v in c["callbacks"].items() if k.startswith("BackboneFinetuning"))[
            "internal_optimizer_metadata"
        ][0]
        for c in epochs
    ]
    names = [n for n in epochs[0]["state_dict"] if "running" not in n and "batches" not in n]
    convolutions = {n for n in names if "conv" in n or "downsample.0" in n}
    assert len(convolutions) == 20 and not any(n.startswith("net.backbone.fc") for n in names)
    [first] = groups[0]
    assert {"net.head.weight", "net.head.bias"} <= set(first["params"])  # epoch 0: the head,
    assert not set(first["params"]) & convolutions  # BatchNorm layers (train_bn), no convolution
    head_group, backbone_group = groups[1]
    assert set(backbone_group["params"]) == convolutions  # then the rest
    assert backbone_group["lr"] == pytest.approx(0.1 * head_group["lr"])  # at a tenth of the LR
    assert epochs[1]["optimizer_states"][0]["param_groups"][1]["lr"] == backbone_group["lr"]


def test_the_schedule_needs_a_backbone(make_config) -> None:
    cfg = make_config("trainer.max_epochs=1", "logger=none", "callbacks=backbone_finetuning")
    with pytest.raises(
        ConfigError, match="needs a network with a backbone, such as model=resnet18"
    ):
        train(cfg)
