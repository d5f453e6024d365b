"""Checks that run before any work starts, so a bad setting fails in a second, not an hour in."""

import torch

from .errors import ConfigError


def check_accelerator(accelerator: str) -> None:
    """Fail with a fix when the trainer asks for hardware this machine does not have."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.accelerator=gpu needs a CUDA GPU, but none is visible"
            " (torch.cuda.is_available() is False); use trainer=cpu, or check the NVIDIA"
            " driver and CUDA_VISIBLE_DEVICES"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "trainer.accelerator=mps needs Apple-silicon MPS, which this machine lacks;"
            " use trainer=cpu"
        )
