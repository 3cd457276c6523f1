"""Listening for a simulator: ``serve_links`` in a nursery, the port reported."""

from __future__ import annotations

import functools
from typing import Any

import trio

from ..iso import Dialect
from ..link import serve_links

__all__ = ["serve_on_port"]


async def serve_on_port(
    dialect: Dialect,
    *,
    task_status: trio.TaskStatus[int],
    **options: Any,
) -> None:
    """Serve links in ``dialect`` until cancelled; ``task_status`` gets the port.

    Args:
        dialect: the peers' dialect.
        task_status: receives the listening port once listening.
        options: passed on to :func:`~sscard_gateway.link.serve_links`
            (``host``, ``port``, ``handler``, keys, callbacks, ``name``...).
    """
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(serve_links, dialect, **options))
        task_status.started(listeners[0].socket.getsockname()[1])
