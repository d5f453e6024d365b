"""torchvision's ResNets for image classification, random or pretrained, sized for the data."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision import models

from ..errors import ConfigError


class ResNet(nn.Module):
    """A torchvision ResNet (`arch`: resnet18, resnet34, resnet50, ...) as `backbone` -> `head`.

    `backbone` is the whole network up to its pooled features; `head` a new `nn.Linear` with
    one output per class of the data. The first convolution takes the data's channels: for grey
    images (1 channel) a pretrained one's filters are summed over red, green and blue, so they
    respond to brightness as before. `weights` names torchvision's weights (`DEFAULT`,
    `IMAGENET1K_V1`, ...); null starts from random weights and downloads nothing. Pretrained
    weights are downloaded once into torch's cache (`$TORCH_HOME`, ~/.cache/torch).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        arch: str = "resnet18",
        weights: str | None = None,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"a ResNet takes images [C, H, W], not samples of shape {list(input_shape)}"
            )
        net = pretrained(arch, weights)
        channels = int(input_shape[0])
        if channels != net.conv1.in_channels:
            net.conv1 = adapt_input_conv(net.conv1, channels)
        self.head = nn.Linear(net.fc.in_features, num_outputs)
        net.fc = nn.Identity()
        self.backbone = net

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))  # (B, C, H, W) -> (B, features) -> (B, num_outputs)


def pretrained(arch: str, weights: str | None) -> models.ResNet:
    """torchvision's `arch` with `weights`; a download that fails is one clear error."""
    if arch not in models.list_models(include=("resnet*", "resnext*", "wide_resnet*")):
        raise ConfigError(
            f"model.net.arch={arch} is not a torchvision ResNet; e.g. resnet18, resnet50"
        )
    if weights is None:
        return models.get_model(arch, weights=None)
    known = models.get_model_weights(arch)
    if weights not in known.__members__:
        raise ConfigError(
            f"model.net.weights={weights} is not a weight set of {arch}; use one of:"
            f" {', '.join(known.__members__)}, or null for random weights"
        )
    try:
        return models.get_model(arch, weights=weights)
    except OSError as err:  # no network (urllib's URLError), a full or read-only cache
        raise ConfigError(
            f"model.net.weights={weights} needs {known[weights].url}, which could not be fetched"
            f" ({err}); go online once (the file stays in {torch.hub.get_dir()}/checkpoints),"
            " copy it there by hand, or use model.net.weights=null for random weights"
        ) from None


def adapt_input_conv(conv: nn.Conv2d, channels: int) -> nn.Conv2d:
    """`conv` changed in place to take `channels` input channels: its pretrained filters summed
    (1 channel) or tiled (others)."""
    weight, rgb = conv.weight.detach(), conv.in_channels  # (out, 3, k, k)
    if channels == 1:
        weight = weight.sum(dim=1, keepdim=True)
    else:  # repeat the RGB filters, scaled so the response keeps its size
        weight = weight.repeat(1, -(-channels // rgb), 1, 1)[:, :channels] * rgb / channels
    conv.in_channels, conv.weight = channels, nn.Parameter(weight)
    return conv
