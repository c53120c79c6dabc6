"""Parity, docs/spec.md §5 Payload JSON: `check_json` on raw JSON text and bytes, its
`max_depth` setting and its argument types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.parity.compare import budget, check_json_of, same
from tests.core.parity.strategies import RAW_PAYLOADS


@budget(600)
@given(
    text=RAW_PAYLOADS,
    as_str=st.booleans(),
    max_depth=st.sampled_from([None, None, 1, 2, 8, 64, 128]),
)
def test_check_json_parity(text: str | bytes, as_str: bool, max_depth: int | None) -> None:
    if isinstance(text, bytes) and as_str:
        text = text.decode("utf-8", "surrogateescape")  # invalid UTF-8: lone surrogates
    same(lambda impl: check_json_of(impl)(text, max_depth=max_depth))


@pytest.mark.parametrize("max_depth", [0, -1, 129, 2**70, True, 1.0, "8"])
def test_check_json_depth_setting_parity(max_depth: object) -> None:
    same(lambda impl: check_json_of(impl)("1", max_depth=max_depth))


@pytest.mark.parametrize("text", [None, 1, bytearray(b"1"), memoryview(b"1"), ["1"]])
def test_check_json_type_parity(text: object) -> None:
    same(lambda impl: check_json_of(impl)(text))
