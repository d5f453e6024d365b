"""Models: plain-PyTorch networks and the LightningModule that trains them."""

from .cnn import CNN
from .linear import Linear
from .mlp import MLP
from .supervised import SupervisedModule
from .tasks import task_loss, task_metrics

__all__ = ["CNN", "MLP", "Linear", "SupervisedModule", "task_loss", "task_metrics"]
