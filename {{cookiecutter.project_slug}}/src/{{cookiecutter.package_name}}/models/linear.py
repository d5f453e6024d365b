"""Linear and logistic regression: `nn.Linear` that also takes images, by flattening them."""

from torch import Tensor, nn


class FlatLinear(nn.Linear):
    """nn.Linear over flattened inputs: (B, F) stays as it is, (B, C, H, W) becomes (B, C*H*W).

    With MSELoss it is linear regression, with CrossEntropyLoss logistic regression; the
    parameters keep nn.Linear's names (`weight`, `bias`).
    """

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.flatten(1))
