"""Sharing work between the two processes of a reconciliation, without guessing.

Why (reconciliation at scale): the journal is read by a helper process
while this process reads UnionPay's file, and then by this process too;
later both pair partitions. How much each should do depends on the
machine, the file and the day, so it is not decided beforehand: the work
is cut into numbered pieces, and each piece is *claimed* by whoever takes
it first (:class:`Claims`).

* The date's journal rows are cut into blocks by row number (``seq``,
  :class:`RowBlocks`). The helper claims from the first block up, this
  process (once the file is read) from the last block down; they meet
  wherever they meet, and neither waits for the other by more than one
  block.
* The partitions are then claimed by both in the same order, each taking
  the next one not yet taken.

A claim is a file created with ``O_CREAT | O_EXCL`` in the work folder:
the operating system lets exactly one process create it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs

__all__ = ["Claims", "RowBlocks"]


@attrs.frozen
class Claims:
    """Pieces ``0..count-1`` of one kind of work, each taken by one process only.

    Attributes:
        folder: the work folder, where the claims are made.
        name: the kind of work (part of the claim files' names).
        count: how many pieces.
    """

    folder: str
    name: str
    count: int

    def claim(self, piece: int) -> bool:
        """Take a piece; ``False`` when another process took it first."""
        path = os.path.join(self.folder, f"{self.name}-{piece:04d}.claim")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    def take(self) -> Iterator[int]:
        """Every piece not taken yet, claimed one at a time, in order."""
        return (piece for piece in range(self.count) if self.claim(piece))

    def take_until_taken(self, *, backwards: bool = False) -> Iterator[int]:
        """Claim pieces in order (or from the last down) until one is taken already.

        Two processes going opposite ways meet in the middle: each piece is
        taken by one of them, and both stop there.
        """
        order = range(self.count - 1, -1, -1) if backwards else range(self.count)
        for piece in order:
            if not self.claim(piece):
                return
            yield piece


@attrs.frozen
class RowBlocks:
    """The rows ``first..last`` (by ``seq``) cut into ``count`` blocks, each claimed once.

    Attributes:
        folder: the work folder, where the claims are made.
        first: the date's lowest ``seq``.
        last: its highest.
        count: how many blocks.
    """

    folder: str
    first: int
    last: int
    count: int = 64

    def bounds(self, block: int) -> tuple[int, int]:
        """The rows of a block: ``lo <= seq < hi``."""
        span = self.last + 1 - self.first
        return (
            self.first + span * block // self.count,
            self.first + span * (block + 1) // self.count,
        )

    def take(self, *, backwards: bool = False) -> Iterator[tuple[int, int]]:
        """Claim blocks from the first up (or the last down) until one is taken already.

        Returns:
            The bounds of each block claimed, as it is claimed.
        """
        claims = Claims(self.folder, "block", self.count)
        return map(self.bounds, claims.take_until_taken(backwards=backwards))
