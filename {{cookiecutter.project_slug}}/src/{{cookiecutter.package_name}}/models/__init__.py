"""Models: plain-PyTorch networks and the LightningModule that trains them, one module each
(configs and imports name the module: `models.mlp.MLP`)."""
