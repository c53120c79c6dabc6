"""Every ```python block of README.md runs, in order, as the reader would paste it."""

from __future__ import annotations

import pytest

from tests.support.repo import readme_python_blocks

BLOCKS = readme_python_blocks()


def test_readme_has_a_quick_start() -> None:
    assert BLOCKS, "README.md has no python blocks"
    assert len(BLOCKS[0].strip().splitlines()) <= 15


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(BLOCKS[index], f"README.md block {index}", "exec")
    exec(code, {"__name__": f"readme_{index}"})  # noqa: S102 - running our own documentation
