"""A load generator: N requests, C in flight, throughput and latency percentiles.

It drives any link (``await link.request(message, timeout=...)``) with
requests from a factory, keeps exactly ``concurrency`` of them in flight
until ``total`` are done, and reports requests per second and the latency
distribution measured on Trio's clock. Response codes are counted, errors
(timeouts, lost connections) too; nothing is retried.

A load that must also be judged — every request on a card of its own, a
requester's record written before each message leaves, the requests of
unknown outcome reversed until acknowledged — gives :func:`run_load` the
request function of a :class:`RecordingRequester` (re-exported here from
:mod:`._load_record`, which explains why).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from ..errors import SscardError
from ..iso import Message
from ._load_record import (
    ACKNOWLEDGED,
    MIXED_KINDS,
    LoadRecord,
    Planned,
    RecordingRequester,
    ReversalResult,
    UniqueWorkload,
    expected_ledgers,
    reverse_once,
    reverse_unknown,
    unique_card,
)

__all__ = [
    "ACKNOWLEDGED",
    "MIXED_KINDS",
    "LoadRecord",
    "LoadResult",
    "Planned",
    "RecordingRequester",
    "ReversalResult",
    "UniqueWorkload",
    "expected_ledgers",
    "reverse_once",
    "reverse_unknown",
    "run_load",
    "unique_card",
]

RequestFunction = Callable[[Message], Awaitable[Message]]


@attrs.frozen(kw_only=True)
class LoadResult:
    """What a load run measured (latencies in milliseconds)."""

    requests: int
    concurrency: int
    seconds: float
    codes: dict[str, int]
    errors: dict[str, int]
    latencies_ms: tuple[float, ...] = attrs.field(repr=False)

    @property
    def completed(self) -> int:
        """Requests that got a response."""
        return sum(self.codes.values())

    @property
    def throughput(self) -> float:
        """Responses per second."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th latency percentile in ms (nearest rank), 0 when none."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        rank = max(1, round(p / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def summary(self) -> dict[str, Any]:
        """The figures as JSON-ready values (what ``sim load --json`` prints)."""
        return {
            "requests": self.requests,
            "completed": self.completed,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "throughput": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p90_ms": round(self.percentile(90), 3),
            "p99_ms": round(self.percentile(99), 3),
            "codes": self.codes,
            "errors": self.errors,
        }

    def table(self, title: str = "load") -> str:
        """A readable summary."""
        lines = [
            f"{title}: {self.requests} requests, {self.concurrency} in flight, "
            f"{self.seconds:.2f} s",
            f"  throughput {self.throughput:,.0f}/s   p50 {self.percentile(50):.2f} ms   "
            f"p90 {self.percentile(90):.2f} ms   p99 {self.percentile(99):.2f} ms",
            "  codes " + ", ".join(f"{k}: {v}" for k, v in sorted(self.codes.items())),
        ]
        if self.errors:
            lines.append(
                "  errors " + ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
            )
        return "\n".join(lines)


async def run_load(
    request: RequestFunction,
    make: Callable[[int], Message],
    *,
    total: int,
    concurrency: int,
) -> LoadResult:
    """Send ``total`` requests built by ``make(i)``, ``concurrency`` at a time.

    Args:
        request: sends one request and returns its response
            (``functools.partial(link.request, timeout=...)``).
        make: builds request number ``i`` (unique keys are the caller's business).
        total: how many requests.
        concurrency: how many in flight at once.

    Returns:
        The measurements.
    """
    codes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < total:
            index = next_index
            next_index += 1
            message = make(index)
            start = trio.current_time()
            try:
                response = await request(message)
            except SscardError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append((trio.current_time() - start) * 1000.0)
            codes[str(response.fields.get(39, "??"))] += 1

    began = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, total)):
            nursery.start_soon(worker)
    elapsed = trio.current_time() - began
    return LoadResult(
        requests=total,
        concurrency=concurrency,
        seconds=elapsed,
        codes=dict(codes),
        errors=dict(errors),
        latencies_ms=tuple(latencies),
    )
