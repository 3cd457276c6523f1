"""Store-and-forward policy: how owed reversals and advices are retried, and when they expire.

Money is never given up by an attempt count: an owed reversal or advice is
retried, with a capped exponential backoff, for as long as its destination
link is signed on, and attempts are counted only then (a switch that is
down for an hour costs no attempts). Past its business expiry an item goes
to the exception queue, where an operator acts on it.
"""

from __future__ import annotations

import attrs

__all__ = ["SafPolicy"]


@attrs.frozen(kw_only=True)
class SafPolicy:
    """Store-and-forward: how owed reversals and advices are retried.

    Attempt ``n`` (from 1) is followed, when it fails, by a wait of
    ``min(maximum, initial * multiplier ** (n - 1))`` seconds. An item goes
    to the exception queue ``expiry`` seconds after it was owed if it is
    still not acknowledged. ``attempt_timeout`` bounds each attempt;
    ``batch`` is the most items attempted at once.
    """

    initial: float = 1.0
    maximum: float = 60.0
    multiplier: float = 2.0
    expiry: float = 3 * 86400.0
    attempt_timeout: float = 10.0
    batch: int = 32

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        return min(self.maximum, self.initial * self.multiplier ** max(0, min(attempts, 64) - 1))
