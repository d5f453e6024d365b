"""Reads an offline W&B run's `.wandb` file with W&B's own protobuf schema.

The file is W&B's LevelDB-style log: a 7-byte header, then 32 KiB blocks of records, each with a
7-byte header (CRC, length, type: 1 full, 2 first, 3 middle, 4 last chunk) around a serialized
`wandb.proto.wandb_internal_pb2.Record`. W&B dropped its Python reader when it moved syncing to
its Go core, so the tests decode the log here.
"""

import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7  # 4-byte CRC32C, 2-byte length, 1-byte chunk type
FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    assert data.startswith(FILE_HEADER), f"{path} is not a W&B run log"
    offset, pending = len(FILE_HEADER), b""
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # a block's tail too short for a header is padding
            offset += BLOCK - offset % BLOCK
            continue
        length, kind = struct.unpack_from("<HB", data, offset + 4)
        if kind == 0 and length == 0:  # zero padding at the end of a block
            offset += BLOCK - offset % BLOCK
            continue
        chunk = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
