"""Shuffling that depends only on (seed, epoch), so a resumed run sees the same batches."""

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """A new random order each epoch, drawn from `seed + epoch` instead of the global RNG.

    Lightning calls `set_epoch` at the start of every epoch. A run resumed at epoch 3 therefore
    shuffles epoch 3 exactly as the uninterrupted run did, which the global RNG cannot promise.
    (Under DDP Lightning swaps in a DistributedSampler, which follows the same rule per rank.)
    """

    def __init__(self, data_source: Sized, seed: int) -> None:
        self.data_source = data_source
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(len(self.data_source), generator=generator).tolist())

    def __len__(self) -> int:
        return len(self.data_source)
