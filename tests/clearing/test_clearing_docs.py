"""docs/clearing.md cannot drift: its names are the exports, its chart is what its example draws."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import sscard_gateway.clearing as clearing

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "clearing.md"
CHART = ROOT / "docs" / "clearing-net-settlement.svg"


def run_examples() -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "docs_clearing"}
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def test_the_committed_chart_is_what_the_example_draws() -> None:
    assert run_examples()["svg"] == CHART.read_text(encoding="utf-8")
    assert "clearing-net-settlement.svg" in DOC.read_text(encoding="utf-8")


def test_every_public_name_is_exported_once_and_documented() -> None:
    names = clearing.__all__
    assert names == sorted(set(names))
    defined = {
        n
        for n, v in vars(clearing).items()
        if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"
    }
    assert defined == set(names)
    text = DOC.read_text(encoding="utf-8")
    for name in names:
        assert name in text, f"{name} is not mentioned in docs/clearing.md"
        value = getattr(clearing, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"
        if inspect.isfunction(value) and len(inspect.signature(value).parameters) > 1:
            assert "Args:" in (value.__doc__ or ""), f"{name} documents no arguments"
            assert "Returns:" in (value.__doc__ or ""), f"{name} documents no result"


def test_public_methods_have_docstrings() -> None:
    for name in clearing.__all__:
        value = getattr(clearing, name)
        if not inspect.isclass(value) or name == "SwitchRecordLike":
            continue
        for attr, member in vars(value).items():
            if attr.startswith("_") and attr not in ("__call__", "__iter__"):
                continue
            if callable(member) or isinstance(member, property):
                assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_modules_open_with_why_and_stay_small() -> None:
    paths = [*Path(clearing.__file__).parent.glob("*.py"), ROOT / "sscard_gateway/cli/_clearing.py"]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""'), path.name
        assert len(text.splitlines()) < 450, path.name
