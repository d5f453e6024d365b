"""The default data: a synthetic linear-regression problem, generated in memory from a seed."""

import numpy as np

from .datamodule import ArrayDataModule
from .synthetic import LinearProblem, make_linear_regression


class SyntheticRegressionDataModule(ArrayDataModule):
    """y = x @ w.T + b + noise; keeps the generating `problem` to check a fit against."""

    def __init__(
        self,
        num_samples: int = 2000,
        num_features: int = 8,
        num_outputs: int = 1,
        noise: float = 0.1,
        seed: int = 0,
        task: str = "regression",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        standardize: bool = True,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        input_shape: list[int] | None = None,
    ) -> None:
        super().__init__(
            task=task,
            num_features=num_features,
            num_outputs=num_outputs,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            standardize=standardize,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            split_seed=seed,
            input_shape=input_shape,
        )
        self.problem: LinearProblem = make_linear_regression(
            num_samples, num_features, num_outputs, noise, seed
        )

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.problem.features, self.problem.targets
