"""Models: plain-PyTorch networks and the LightningModule that trains them."""

from .metrics import task_metrics
from .mlp import MLP
from .supervised import SupervisedModule

__all__ = ["MLP", "SupervisedModule", "task_metrics"]
