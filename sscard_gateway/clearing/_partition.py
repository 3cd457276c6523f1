"""Hash partitions on disk: how a million records are joined in bounded memory.

Why (reconciliation at scale, DOMAIN.md §6): matching a million journal
records to a million file lines by key needs either both sides sorted
(an external sort) or a hash join. A hash join that does not fit in memory
is done in partitions (a "Grace" hash join): each side is split by a hash
of the match key into ``PARTITIONS`` files on disk, in one pass; then each
partition pair is joined in memory, one at a time. Every record is read
and written once per side, nothing is sorted, and memory holds one
partition (a few tens of thousands of records) plus one write buffer per
partition.

How it stays cheap per record: a record is ``width`` values kept *flat*
in its partition's buffer (``buffer += (key, amount, info)``, one C-level
operation, no tuple kept), and a chunk is written with :mod:`marshal` as
one flat list (values are ``bytes``, ``str``, ``int`` and tuples of them;
marshal is three times as fast as pickle here). The reader takes the
columns back out with slices (``chunk[0::width]``), also in C. The files
are this reconciliation's own temporary files, written and read by the
same interpreter (the helper process is the same executable), never by
anything else.
"""

from __future__ import annotations

import marshal
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

__all__ = [
    "CHUNK",
    "PARTITIONS",
    "PartitionWriter",
    "partition_of",
    "read_columns",
    "read_partition",
    "read_values",
    "write_value",
]

PARTITIONS: Final = 64
CHUNK: Final = 4096
"""Records a partition's buffer holds before it is written out."""
_SIZE: Final = struct.Struct("<I")  # a chunk's length, before it


def partition_of(key: bytes) -> int:
    """The partition of a match key (CRC-32: the same in every process).

    Args:
        key: the match key, ASCII bytes.

    Returns:
        ``0`` to ``PARTITIONS - 1``.
    """
    return zlib.crc32(key) % PARTITIONS


class PartitionWriter:
    """Appends records of ``width`` values to ``<folder>/<side>-NN.bin``.

    Args:
        folder: the work folder.
        side: the file name prefix (``"f"``, ``"j"``, ``"c3"``).
        width: values per record.
        partitions: how many files.
    """

    def __init__(
        self, folder: Path, side: str, *, width: int, partitions: int = PARTITIONS
    ) -> None:
        self.paths = [folder / f"{side}-{n:02d}.bin" for n in range(partitions)]
        self._files: list[BinaryIO] = [p.open("wb") for p in self.paths]
        self.width = width
        #: per-partition flat buffers; a hot loop may extend them directly
        #: (``buffers[p] += record``) and call :meth:`flush_full` now and then
        self.buffers: list[list[Any]] = [[] for _ in self.paths]
        self._limit = CHUNK * width

    def add(self, partition: int, *record: Any) -> None:
        """Queue one record (``width`` values) for ``partition``."""
        buffer = self.buffers[partition]
        buffer += record
        if len(buffer) >= self._limit:
            self.flush(partition)

    def flush_full(self) -> None:
        """Write out every buffer that holds ``CHUNK`` records or more."""
        limit = self._limit
        for partition, buffer in enumerate(self.buffers):
            if len(buffer) >= limit:
                self.flush(partition)

    def flush(self, partition: int) -> None:
        """Write one partition's buffer out."""
        buffer = self.buffers[partition]
        if buffer:
            write_value(self._files[partition], buffer)
            buffer.clear()

    def close(self) -> None:
        """Write what is buffered and close the files."""
        for partition, file in enumerate(self._files):
            self.flush(partition)
            file.close()


def read_columns(
    folder: Path, sides: tuple[str, ...], partition: int, width: int
) -> list[list[Any]]:
    """One partition of one or more writers' files, as ``width`` columns.

    Args:
        folder: the work folder.
        sides: the file name prefixes, read in this order.
        partition: which one.
        width: values per record (as written).

    Returns:
        ``width`` lists of equal length: column ``i`` holds every record's
        ``i``-th value, in the order the records were added.
    """
    flat: list[Any] = []
    for side in sides:
        path = folder / f"{side}-{partition:02d}.bin"
        if path.exists():
            for chunk in read_values(path):
                flat += chunk
    return [flat[i::width] for i in range(width)]


def write_value(file: BinaryIO, value: Any) -> None:
    """Append one value (a chunk) to a work file: its length, then it, by :mod:`marshal`."""
    data = marshal.dumps(value)
    file.write(_SIZE.pack(len(data)) + data)


def read_values(path: Path) -> Iterator[Any]:
    """The values :func:`write_value` appended to a work file, in order."""
    with path.open("rb") as file:
        while head := file.read(_SIZE.size):
            (size,) = _SIZE.unpack(head)
            yield marshal.loads(file.read(size))  # noqa: S302 - write_value wrote it


def read_partition(
    folder: Path, side: str, partition: int, width: int
) -> Iterator[tuple[Any, ...]]:
    """The records of one partition, as tuples, in the order they were added.

    Args:
        folder: the work folder.
        side: the file name prefix.
        partition: which one.
        width: values per record.

    Returns:
        An iterator of records.
    """
    return zip(*read_columns(folder, (side,), partition, width), strict=True)
