"""Data: datasets, transforms and the LightningDataModules that serve them."""

from .datamodule import ArrayDataModule
from .dataset import ArrayDataset
from .regression import SyntheticRegressionDataModule
from .synthetic import LinearProblem, make_linear_regression
from .transforms import Compose, Standardize, ToTensor

__all__ = [
    "ArrayDataModule",
    "ArrayDataset",
    "Compose",
    "LinearProblem",
    "Standardize",
    "SyntheticRegressionDataModule",
    "ToTensor",
    "make_linear_regression",
]
