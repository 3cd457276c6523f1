"""The listening half every simulator shares: serve links on a port, report it."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

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
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until cancelled; ``task_status.started`` gets the port."""
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(
                    serve_links,
                    self.dialect,
                    handler=self.handle,
                    host=host,
                    port=port,
                    config=self.config,
                    security=self.security,
                    keys=self.keys,
                    name=self.name,
                    **self.callbacks(),
                )
            )
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started(self.port)
