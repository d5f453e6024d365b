"""The default data: a synthetic linear-regression problem, generated in memory from a seed."""

from dataclasses import dataclass

import numpy as np

from .datamodule import ArrayDataModule, Arrays


@dataclass(frozen=True)
class LinearProblem:
    """Samples of y = x @ weight.T + bias + noise, with the weights that generated them."""

    features: np.ndarray  # (N, F) float32
    targets: np.ndarray  # (N, O) float32
    weight: np.ndarray  # (O, F), the layout of nn.Linear.weight
    bias: np.ndarray  # (O,)


def make_linear_regression(
    num_samples: int, num_features: int, num_outputs: int = 1, noise: float = 0.1, seed: int = 0
) -> LinearProblem:
    """Draws a linear problem; the same seed always gives the same arrays."""
    rng = np.random.default_rng(seed)
    # Features on unequal scales and offsets, as in real tables: plain SGD diverges or crawls
    # on them unless they are standardised first, which is what the transforms are for.
    scale = rng.uniform(0.5, 5.0, size=num_features)
    offset = rng.uniform(-3.0, 3.0, size=num_features)
    features = rng.normal(size=(num_samples, num_features)) * scale + offset
    weight = rng.normal(size=(num_outputs, num_features))
    bias = rng.normal(size=num_outputs)
    targets = features @ weight.T + bias + noise * rng.normal(size=(num_samples, num_outputs))
    return LinearProblem(*(a.astype(np.float32) for a in (features, targets, weight, bias)))


class SyntheticRegressionDataModule(ArrayDataModule):
    """y = x @ w.T + b + noise; keeps the generating `problem` to check a fit against.

    `seed` draws the data; the split has its own `split_seed`.
    """

    def __init__(
        self,
        num_samples: int = 2000,
        num_features: int = 8,
        num_outputs: int = 1,
        noise: float = 0.1,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.problem = make_linear_regression(num_samples, num_features, num_outputs, noise, seed)

    def load(self) -> dict[str, Arrays]:
        return {"train": (self.problem.features, self.problem.targets)}
