"""Data: datasets, transforms and the LightningDataModules that serve them."""

from .datamodule import ArrayDataModule
from .dataset import ArrayDataset, PerItemDataset
from .digits import DigitsDataModule
from .folder import ImageFolderDataModule
from .images import ImageDataModule
from .mnist import MNISTDataModule, write_mnist
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
    "ImageFolderDataModule",
    "LinearProblem",
    "MNISTDataModule",
    "PerItemDataset",
    "PerSample",
    "Standardize",
    "SyntheticRegressionDataModule",
    "TensorBatchSampler",
    "ToTensor",
    "make_linear_regression",
    "write_mnist",
]
