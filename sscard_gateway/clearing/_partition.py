"""Hash partitions on disk: how a million records are joined in bounded memory.

Why (reconciliation at scale, DOMAIN.md §6): matching a million journal
records to a million file lines by key needs either both sides sorted
(an external sort) or a hash join. A hash join that does not fit in memory
is done in partitions (a "Grace" hash join): each side is split by a hash
of the match key into ``PARTITIONS`` files on disk, in one pass; then each
partition pair is joined in memory, one at a time, with a dictionary.
Every record is read and written once per side, nothing is sorted, and
memory holds one partition (a few thousand records) plus one write buffer
per partition.

Records are tuples of ``int``, ``str``, ``bytes`` and ``bool``, written in
chunks with :mod:`pickle` (the files are this process's own temporary files,
read back only by it or by its child, never from elsewhere).
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

__all__ = [
    "CHUNK",
    "PARTITIONS",
    "PartitionWriter",
    "partition_of",
    "read_chunks",
    "read_partition",
]

PARTITIONS: Final = 64
CHUNK: Final = 2048


def partition_of(key: bytes) -> int:
    """The partition of a match key (CRC-32: the same in every process).

    Args:
        key: the match key, ASCII bytes.

    Returns:
        ``0`` to ``PARTITIONS - 1``.
    """
    return zlib.crc32(key) % PARTITIONS


class PartitionWriter:
    """Appends records to ``<folder>/<side>-NN.bin``, a chunk at a time.

    Args:
        folder: the work folder.
        side: the file name prefix (``"f"``, ``"j"``, ``"c3"``).
        partitions: how many files.
    """

    def __init__(self, folder: Path, side: str, partitions: int = PARTITIONS) -> None:
        self.paths = [folder / f"{side}-{n:02d}.bin" for n in range(partitions)]
        self._files: list[BinaryIO] = [p.open("wb") for p in self.paths]
        #: per-partition buffers; a caller may append to them directly (in
        #: a hot loop) and call :meth:`flush` when one reaches ``CHUNK``
        self.buffers: list[list[tuple[Any, ...]]] = [[] for _ in self.paths]
        self.count = 0

    def add(self, partition: int, record: tuple[Any, ...]) -> None:
        """Queue ``record`` for ``partition``; full buffers are written out."""
        buffer = self.buffers[partition]
        buffer.append(record)
        if len(buffer) >= CHUNK:
            self.flush(partition)
        self.count += 1

    def flush(self, partition: int) -> None:
        """Write one partition's buffer out."""
        buffer = self.buffers[partition]
        if buffer:
            pickle.dump(buffer, self._files[partition], protocol=pickle.HIGHEST_PROTOCOL)
            buffer.clear()

    def close(self) -> None:
        """Write what is buffered and close the files."""
        for partition, file in enumerate(self._files):
            self.flush(partition)
            file.close()


def read_chunks(folder: Path, side: str, partition: int) -> Iterator[list[tuple[Any, ...]]]:
    """The records of one partition, a chunk (a list) at a time, in order.

    Args:
        folder: the work folder.
        side: the file name prefix.
        partition: which one.

    Returns:
        An iterator of chunks.
    """
    path = folder / f"{side}-{partition:02d}.bin"
    if not path.exists():
        return
    with path.open("rb") as file:
        while True:
            try:
                yield pickle.load(file)  # noqa: S301 - written by PartitionWriter above
            except EOFError:
                return


def read_partition(folder: Path, side: str, partition: int) -> Iterator[tuple[Any, ...]]:
    """The records of one partition, in the order they were added.

    Args:
        folder: the work folder.
        side: the file name prefix.
        partition: which one.

    Returns:
        An iterator of records (one chunk in memory at a time).
    """
    for chunk in read_chunks(folder, side, partition):
        yield from chunk
