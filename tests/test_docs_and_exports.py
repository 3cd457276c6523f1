"""Docs cannot drift and the public surface is deliberate (STYLE.md 7, "Avoid").

Every Python block of every page under docs/ runs, page by page in one
namespace; every TOML block parses. Every public package exports each name
once, every exported class and function has a docstring, and every module
opens with one and stays under 500 lines.
"""

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import sscard_gateway

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text(encoding="utf-8"))
PACKAGES = ["sscard_gateway", *(f"sscard_gateway.{m.name}" for m in pkgutil.iter_modules(
    sscard_gateway.__path__) if m.ispkg and m.name not in ("cli",))]  # fmt: skip


def test_every_page_with_examples_is_covered():
    names = {p.name for p in PAGES}
    assert {"wire.md", "gateway.md", "links.md", "routing.md", "journal.md", "crypto.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_examples_run(page):
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_doc_toml_blocks_parse(page):
    for block in re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        tomllib.loads(block)


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_exported_once_and_documented(name):
    package = importlib.import_module(name)
    exported = list(getattr(package, "__all__", []))
    assert len(exported) == len(set(exported)), f"{name} exports a name twice"
    for attr in exported:
        value = getattr(package, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{name}.{attr} has no docstring"


def test_modules_open_with_why_and_stay_small():
    root = Path(sscard_gateway.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "__init__.py" or text.strip():
            assert text.lstrip().startswith('"""'), f"{path} opens without a docstring"
        assert text.count("\n") < 500, f"{path} has {text.count(chr(10))} lines"
