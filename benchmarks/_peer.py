"""The system under test for bench_gateway.py, in a process of its own.

    python benchmarks/_peer.py gateway STORE MASTER_KEY_FILE FOLDER SWITCH_PORT
    python benchmarks/_peer.py relay SWITCH_PORT

Prints one JSON line (its listening ports) once it is serving, then serves
until killed. Not a benchmark itself (no bench_ prefix).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sscard_gateway.crypto import MasterKey, SoftwareSecurityModule
from sscard_gateway.gateway import Gateway
from sscard_gateway.sim.lab import lab_config
from sscard_gateway.store import SQLiteJournal


async def relay(switch_port: int) -> None:
    """A plain byte relay: every connection is piped to the switch."""

    async def pipe(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
        try:
            while data := await source.receive_some(65536):
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def serve(client: trio.SocketStream) -> None:
        upstream = await trio.open_tcp_stream("127.0.0.1", switch_port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pipe, client, upstream)
            nursery.start_soon(pipe, upstream, client)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    print(json.dumps({"relay": listeners[0].socket.getsockname()[1]}), flush=True)
    await trio.serve_listeners(serve, listeners)


async def gateway(store: str, master: str, folder: str, switch_port: int) -> None:
    """The full gateway with its SQLite journal, keys from the key store."""
    hsm = SoftwareSecurityModule.open(store, MasterKey.from_file(master))
    journal = SQLiteJournal(Path(folder) / "journal.db", pan_key=b"p" * 32, data_key=b"d" * 32)
    try:
        gw = Gateway(lab_config(switch_port, timeout=10.0), security=hsm, journal=journal)
        async with trio.open_nursery() as nursery:
            ports = await nursery.start(gw.run)
            while not gw.statistics().upstream_ready:
                await trio.sleep(0.01)
            print(json.dumps(ports), flush=True)
    finally:
        journal.close()


def main() -> None:
    if sys.argv[1] == "relay":
        trio.run(relay, int(sys.argv[2]))
    else:
        trio.run(gateway, sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))


if __name__ == "__main__":
    profile = os.environ.get("SSCARD_PEER_PROFILE")  # a cProfile dump, for finding hot spots
    if profile and sys.argv[1] != "relay":
        import cProfile

        profiler = cProfile.Profile()
        try:
            profiler.runcall(main)
        except KeyboardInterrupt:
            pass
        finally:
            profiler.dump_stats(profile)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            main()
