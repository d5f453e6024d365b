"""Linear and logistic regression: `nn.Linear` that also takes images, by flattening them."""

import math
from collections.abc import Sequence

from torch import Tensor, nn


class Linear(nn.Linear):
    """nn.Linear over flattened inputs: (B, F) stays as it is, (B, C, H, W) becomes (B, C*H*W).

    With MSELoss it is linear regression, with CrossEntropyLoss logistic regression; the
    parameters keep nn.Linear's names (`weight`, `bias`).
    """

    def __init__(self, input_shape: Sequence[int], num_outputs: int) -> None:
        super().__init__(math.prod(input_shape), num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.flatten(1))
