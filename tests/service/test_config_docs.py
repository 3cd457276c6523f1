"""docs/configuration.md shows examples/gateway.toml word for word, and both pages stay true."""

from __future__ import annotations

import re

from service_helpers import EXAMPLE, ROOT

from sscard_gateway.config import load_config
from sscard_gateway.service._metrics import __doc__ as METRICS_DOC

CONFIGURATION = ROOT / "docs" / "configuration.md"
OPERATIONS = ROOT / "docs" / "operations.md"


def test_the_annotated_example_in_the_docs_is_the_example_file():
    page = CONFIGURATION.read_text(encoding="utf-8")
    section = page.split("## The annotated example", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    assert block.group(1) == EXAMPLE.read_text(encoding="utf-8")


def test_every_section_of_the_example_is_documented():
    page = CONFIGURATION.read_text(encoding="utf-8")
    config = load_config(EXAMPLE)
    assert config.metrics is not None
    for heading in (
        "[gateway]",
        "[upstream]",
        "[[centers]]",
        "[routing]",
        "[mappings]",
        "[store_and_forward]",
        "[security]",
        "[journal]",
        "[cutover]",
        "[logging]",
        "[metrics]",
    ):
        assert f"### `{heading}`" in page, heading


def test_operations_lists_every_metric():
    page = OPERATIONS.read_text(encoding="utf-8")
    names = re.findall(r"``(sscard_[a-z_]+)``", METRICS_DOC or "")
    assert len(names) >= 10
    for name in names:
        assert f"`{name}`" in page, name
