"""Models: plain-PyTorch networks and the LightningModule that trains them."""

from .cnn import CNN
from .linear import FlatLinear
from .metrics import task_loss, task_metrics
from .mlp import MLP
from .supervised import SupervisedModule

__all__ = ["CNN", "MLP", "FlatLinear", "SupervisedModule", "task_loss", "task_metrics"]
