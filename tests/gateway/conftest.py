"""End-to-end harness: the lab (switch simulator + gateway + two centers) on loopback."""

import pytest

from sscard_gateway.sim.lab import open_lab


@pytest.fixture
async def world(tmp_path):
    async with open_lab(tmp_path, timeout=1.0) as lab:
        yield lab
