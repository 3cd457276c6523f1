"""docs/links.md cannot drift: its Python blocks run and its table is the real one."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import sscard_gateway.link as link
from sscard_gateway.link import TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "links.md"


def test_links_doc_transition_table_is_the_code_table():
    text = DOC.read_text(encoding="utf-8").split("## States and transitions", 1)[1]
    rows = re.findall(r"^\| ([a-z -]+) \| ([a-z -]+) \| ([a-z -]+) \|$", text, re.M)
    documented = {(s, t, n) for s, t, n in rows if s != "state"}
    actual = {(s.value, t.value, n.value) for (s, t), n in TRANSITIONS.items()}
    assert documented == actual


def test_every_public_name_is_exported_once_and_documented():
    names = link.__all__
    assert len(names) == len(set(names))
    for name in names:
        value = getattr(link, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__ and value.__doc__.strip(), f"{name} has no docstring"
            if inspect.isfunction(value) and len(inspect.signature(value).parameters) > 1:
                assert "Args:" in value.__doc__, f"{name} documents no arguments"
