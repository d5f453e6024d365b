"""Batches of indices drawn whole: one permutation and one split per epoch, no per-index loop."""

from collections.abc import Iterator

import torch
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler


class TensorBatchSampler(BatchSampler):
    """A `BatchSampler` that yields each batch's indices as one tensor.

    `BatchSampler` takes one index at a time from its sampler and groups them in Python; for
    small samples held in memory that loop costs more than reading the batch itself. When the
    sampler walks the whole dataset in order (`SequentialSampler`) or shuffled (`RandomSampler`
    without replacement), this draws the order at once and splits it. Any other sampler is
    batched as `BatchSampler` does: under DDP, Lightning rebuilds this class around its
    `DistributedSampler`, so each process still reads only its own shard.
    """

    def __iter__(self) -> Iterator[list[int]]:
        sampler = self.sampler
        if type(sampler) is SequentialSampler:
            order = torch.arange(len(sampler))
        elif (
            type(sampler) is RandomSampler
            and not sampler.replacement
            and sampler.num_samples == len(sampler.data_source)
        ):
            order = torch.randperm(sampler.num_samples, generator=sampler.generator)
        else:
            yield from super().__iter__()
            return
        if self.drop_last:  # a last batch shorter than batch_size is left out
            order = order[: len(order) - len(order) % self.batch_size]
        # Index tensors index numpy arrays and tensors as lists do, without the Python loop.
        yield from order.split(self.batch_size)
