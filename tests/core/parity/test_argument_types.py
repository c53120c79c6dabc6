"""Parity, docs/spec.md "Argument types" (and §4's decimal times): the inputs on which the two
implementations once disagreed, each now settled by the spec (`SETTLED_CASES` in cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from tests.core.parity.cases import SETTLED_CASES
from tests.core.parity.compare import same


@pytest.mark.parametrize("call", [pytest.param(c, id=name) for name, c, _ in SETTLED_CASES])
def test_settled_cases(call: Callable[[ModuleType], object]) -> None:
    same(call)
