"""Fine-tuning a pretrained network: its head first, then its backbone at a lower rate."""

import warnings
from typing import Any

import lightning as L
from lightning.pytorch import callbacks
from torch import nn

from ..errors import ConfigError


class BackboneFinetuning(callbacks.BackboneFinetuning):
    """Lightning's `BackboneFinetuning` for networks built when fitting starts.

    Trains the head (and with `train_bn` the backbone's BatchNorm layers) alone until
    `unfreeze_backbone_at_epoch`, then adds the backbone to the optimizer at
    `backbone_initial_ratio_lr` times the learning rate, raised each epoch by Lightning's
    schedule. Lightning freezes in `setup`, before `configure_model` has built the network for
    the data; here the backbone (`SupervisedModule.backbone`) is frozen when fitting starts,
    and taken out of the optimizer, which was created with it.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        pass  # no network yet: see on_fit_start

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        backbone = getattr(pl_module, "backbone", None)
        if not isinstance(backbone, nn.Module):
            raise ConfigError(
                "callbacks.backbone_finetuning needs a network with a backbone, such as"
                " model=resnet18; leave the callback out for this model"
            )
        if self.previous_backbone_lr is None:  # not unfrozen yet (a resumed run may have been)
            self.freeze(backbone, train_bn=self.train_bn)
            frozen = {id(p) for p in backbone.parameters() if not p.requires_grad}
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["params"] = [p for p in group["params"] if id(p) not in frozen]
        super().on_fit_start(trainer, pl_module)

    def finetune_function(self, pl_module: L.LightningModule, epoch: int, optimizer: Any) -> None:
        with warnings.catch_warnings():
            # With train_bn the BatchNorm layers trained all along: in the optimizer already.
            warnings.filterwarnings("ignore", "The provided params to be frozen already exist")
            super().finetune_function(pl_module, epoch, optimizer)
