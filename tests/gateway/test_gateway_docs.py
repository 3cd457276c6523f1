"""The Python examples in docs/gateway.md run."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


def test_gateway_doc_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
