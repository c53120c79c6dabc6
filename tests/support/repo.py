"""Files of the repository that tests read: the shared vectors and the README."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"
VECTORS = ROOT / "tests" / "vectors"
"""The JSON test vectors, read by cargo test (rust/tests/) and fuzz/seed.py too."""


def load_vectors(name: str) -> Any:
    """A JSON vector file from tests/vectors/."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def readme_python_blocks() -> list[str]:
    """The code of every ```python block of README.md, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def readme_section(title: str) -> str:
    """The text of one `## ` section of README.md."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]
