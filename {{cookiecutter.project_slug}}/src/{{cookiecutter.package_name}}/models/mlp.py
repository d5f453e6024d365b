"""A fully connected network: plain PyTorch, importable without Lightning or Hydra."""

from collections.abc import Sequence

from torch import Tensor, nn

from ..errors import ConfigError


class MLP(nn.Module):
    """in_features -> [Linear, activation, dropout] per hidden size -> Linear -> out_features.

    Images are flattened first, so (B, C, H, W) batches work with in_features = C*H*W.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "ReLU",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        activation_cls = getattr(nn, activation, None)
        if not isinstance(activation_cls, type) or not issubclass(activation_cls, nn.Module):
            raise ConfigError(
                f"model.net.activation={activation!r} is not a torch.nn activation;"
                " use a class name such as ReLU, GELU or Tanh"
            )
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), activation_cls()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1))  # (B, ...) -> (B, in_features) -> (B, out_features)
