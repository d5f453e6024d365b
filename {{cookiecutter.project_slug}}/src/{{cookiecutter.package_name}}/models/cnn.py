"""A small LeNet-style convolutional network: plain PyTorch, importable without Lightning."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class CNN(nn.Module):
    """[Conv 3x3, ReLU, MaxPool 2] per entry of `channels` -> Linear, ReLU -> Linear.

    `input_shape` is one sample's (C, H, W); a feature vector (F,) is read as a 1 x 1 x F image,
    so the network builds for every dataset (it is meant for images). Pooling halves each side,
    rounding up (a side of 1 pixel stays 1), so 8x8 digits and 28x28 images both fit.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        channels: Sequence[int] = (16, 32),
        hidden_size: int = 64,
        dropout: float = 0.0,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        shape = tuple(int(n) for n in input_shape)
        shape = (1, 1, *shape) if len(shape) == 1 else shape
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"input shape {list(shape)} is not an image shape [C, H, W]")
        self.input_shape = shape
        layers: list[nn.Module] = []
        # Each block's (in, out) channels: the image's, then each entry's in turn.
        for width, out_channels in zip((shape[0], *channels), channels, strict=False):
            pool = nn.MaxPool2d(2, ceil_mode=True)
            layers += [nn.Conv2d(width, out_channels, kernel_size=3, padding=1), nn.ReLU(), pool]
        self.features = nn.Sequential(*layers)
        with torch.no_grad():  # the size of the features the head takes, measured once
            flat_size = self.features(torch.zeros(1, *shape)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat_size, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_outputs),
        )
        # channels_last (NHWC) lets cuDNN use its fastest convolutions, on tensor cores with bf16.
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)

    def forward(self, x: Tensor) -> Tensor:
        # -1, not len(x): a traced copy of the model keeps the batch size free.
        x = x.reshape(-1, *self.input_shape).contiguous(memory_format=self.memory_format)
        return self.head(self.features(x))  # (B, C, H, W) -> (B, num_outputs)
