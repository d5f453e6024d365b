"""Data: datasets, transforms and the LightningDataModules that serve them."""

from .datamodule import ArrayDataModule
from .dataset import ArrayDataset, PerItemDataset
from .digits import DigitsDataModule
from .images import ImageDataModule
from .regression import LinearProblem, SyntheticRegressionDataModule, make_linear_regression
from .sampling import TensorBatchSampler
from .table import CSVDataModule
from .transforms import BatchRandomAffine, Compose, PerSample, Standardize, ToTensor

__all__ = [
    "ArrayDataModule",
    "ArrayDataset",
    "BatchRandomAffine",
    "CSVDataModule",
    "Compose",
    "DigitsDataModule",
    "ImageDataModule",
    "LinearProblem",
    "PerItemDataset",
    "PerSample",
    "Standardize",
    "SyntheticRegressionDataModule",
    "TensorBatchSampler",
    "ToTensor",
    "make_linear_regression",
]
