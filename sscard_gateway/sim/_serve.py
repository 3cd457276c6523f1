"""The listening half every simulator shares: serve links on a port, report it.

Why one base: the switch and a center's answering side listen the same way
(:func:`~sscard_gateway.link.serve_links`), on TCP or — for a fault
simulation on an in-memory network — on listeners the caller gives.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, cast

import trio

from ..crypto import SecurityModule
from ..iso import Dialect, Message
from ..link import LinkConfig, LinkKeys, serve_links

__all__ = ["Listener"]


class Listener:
    """Base of the simulators that listen (the switch, a center's answering side).

    Subclasses set :attr:`dialect`, :attr:`config`, :attr:`security`,
    :attr:`keys`, give :attr:`name` and :meth:`handle`, and may add link
    callbacks through :meth:`callbacks`.
    """

    name: ClassVar[str]
    dialect: Dialect
    config: LinkConfig
    security: SecurityModule | None
    keys: LinkKeys | None
    port: int | None

    async def handle(self, message: Message) -> Message | None:
        """Answer one inbound request (the link layer calls this)."""
        raise NotImplementedError

    def callbacks(self) -> dict[str, Any]:
        """Extra keyword arguments for :func:`~sscard_gateway.link.serve_links`."""
        return {}

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        listeners: list[trio.abc.Listener[Any]] | None = None,
        task_status: trio.TaskStatus[int | None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until cancelled; ``task_status.started`` gets the port.

        Args:
            host: the address to listen on.
            port: the TCP port (0: any free port, reported).
            listeners: serve on these instead of ``host``/``port`` (an
                in-memory network, say); the port reported is the first
                listener's when it has a socket, else ``None``.
            task_status: receives the port once listening.
        """
        async with trio.open_nursery() as nursery:
            # serve_links serves any trio listener; its annotation names TCP's
            given = cast(list[trio.SocketListener] | None, listeners)
            bound = await nursery.start(
                functools.partial(
                    serve_links,
                    self.dialect,
                    handler=self.handle,
                    host=host,
                    port=port,
                    listeners=given,
                    config=self.config,
                    security=self.security,
                    keys=self.keys,
                    name=self.name,
                    **self.callbacks(),
                )
            )
            socket = getattr(bound[0], "socket", None) if bound else None
            self.port = socket.getsockname()[1] if socket is not None else None
            task_status.started(self.port)
