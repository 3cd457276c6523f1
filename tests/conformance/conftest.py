"""Harness of the conformance kit's tests: key stores, peers, pytester.

``pytest_plugins`` is refused in a conftest below the rootdir, so pytester
(for the plugin tests) is registered when this conftest is.
"""

import queue
import threading
from contextlib import contextmanager

import pytest
import trio

from sscard_gateway.crypto import Algorithm, KeyUsage, MasterKey
from sscard_gateway.sim.lab import lab_security


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


class KeyStore:
    """The lab's keys plus a zone master key per party, in a store file."""

    def __init__(self, folder):
        self.store = folder / "keys.store"
        self.master_file = folder / "master.key"
        master = MasterKey.generate()
        master.write_file(self.master_file)
        self.hsm = lab_security(self.store, master)
        for name in ("cups.zmk", "center-110000.zmk"):
            self.hsm.generate_key(name, Algorithm.TDES_2KEY, KeyUsage.ZONE_MASTER)

    def cli_args(self, prefix="--"):
        return [f"{prefix}keys", str(self.store), f"{prefix}master-key", str(self.master_file)]


@pytest.fixture
def keystore(tmp_path):
    return KeyStore(tmp_path)


@pytest.fixture
def thread_peer():
    """Serve a peer (an object with ``async serve(task_status=)``) in a thread of its own.

    For callers that are not in a Trio loop (pytester's in-process pytest,
    the command line): yields the port; the peer stops with the block.
    """

    @contextmanager
    def serve(server):
        box = queue.Queue()

        def run():
            async def main():
                async with trio.open_nursery() as nursery:
                    port = await nursery.start(server.serve)
                    box.put((port, trio.lowlevel.current_trio_token(), nursery.cancel_scope))

            trio.run(main)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        port, token, scope = box.get(timeout=5)
        try:
            yield port
        finally:
            trio.from_thread.run_sync(scope.cancel, trio_token=token)
            thread.join(5)
            assert not thread.is_alive()

    return serve
