"""A fully connected network: plain PyTorch, importable without Lightning or Hydra."""

import math
from collections.abc import Sequence

from torch import Tensor, nn


class MLP(nn.Module):
    """Flattened input -> [Linear, activation, dropout] per hidden size -> Linear -> outputs.

    Images are flattened first, so (B, C, H, W) batches work as well as (B, F) tables.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_outputs: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "ReLU",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        activation_cls = getattr(nn, activation, None)
        if not isinstance(activation_cls, type) or not issubclass(activation_cls, nn.Module):
            raise ValueError(
                f"activation {activation!r} is not a torch.nn activation;"
                " use a class name such as ReLU, GELU or Tanh"
            )
        layers: list[nn.Module] = []
        width = math.prod(input_shape)
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), activation_cls()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1))  # (B, ...) -> (B, features) -> (B, num_outputs)
