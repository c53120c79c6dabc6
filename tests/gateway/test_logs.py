"""JSON logs (`sock8.logs`, `sock8 gateway --log-format json`): one object per line with the
connection's id, identity and the refusal's reason, and never a token or a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sock8
from sock8.cli import build_parser
from sock8.logs import TEXT_FORMAT, JsonFormatter, configure

from tests.gateway.harness import ROOM, Setup, both_servers
from tests.support.live_server import free_port, peer, until
from tests.support.processes import stop
from tests.support.secret import OTHER_SECRET, SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the `sock8` loggers write, as JSON lines, at debug level."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sock8")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@both_servers
async def test_a_refused_token_is_logged_without_the_token_or_a_secret(
    setup: Setup, json_lines: io.StringIO
) -> None:
    token = setup.token(secret=OTHER_SECRET)
    async with peer(setup.server.ws_url) as client:
        await client.send(event="auth", token=token)
        closed, _ = await client.closed()
        assert closed == 4001
    text = json_lines.getvalue()
    for secret in (token, SECRET, OTHER_SECRET, token.rpartition(".")[2]):
        assert secret not in text
    [refusal] = [line for line in lines(json_lines) if line["event"] == "unauthorized"]
    assert refusal["level"] == "debug"
    assert refusal["reason"] == "bad_signature"
    assert len(refusal["connection"]) == 32
    assert "identity" not in refusal  # not known: the token was refused
    assert refusal["time"].endswith("Z")


@both_servers
async def test_a_refused_refresh_names_the_identity(setup: Setup, json_lines: io.StringIO) -> None:
    async with peer(setup.server.ws_url, setup.token("u1")) as client:
        bad = setup.token("u1", secret=OTHER_SECRET)
        await client.send(event="refresh", token=bad)
        closed, _ = await client.closed()
        assert closed == 4001
    [refusal] = [line for line in lines(json_lines) if line["event"] == "refresh"]
    assert refusal["identity"] == "u1"
    assert refusal["reason"] == "bad_signature"
    assert bad not in json_lines.getvalue()


def test_the_formatter_keeps_one_line_and_only_its_fields() -> None:
    record = logging.LogRecord(
        "sock8.gateway", logging.WARNING, __file__, 1, "two\nlines %s", ("ü",), None
    )
    record.password = "hunter2"  # an `extra` the formatter does not know is left out
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert line.isascii()
    parsed = json.loads(line)
    assert parsed["message"] == "two\nlines ü"
    assert parsed["event"] == "gateway"
    assert parsed["level"] == "warning"
    assert "hunter2" not in line


def test_the_format_is_chosen_on_the_command_line() -> None:
    parser = build_parser()
    assert parser.parse_args(["gateway"]).log_format == "text"
    assert parser.parse_args(["gateway", "--log-format", "json"]).log_format == "json"
    with pytest.raises(SystemExit):
        parser.parse_args(["gateway", "--log-format", "xml"])


def test_configure_installs_one_handler_of_the_format() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        handler = configure(logging.INFO, "json")
        assert root.handlers == [handler]
        assert isinstance(handler.formatter, JsonFormatter)
        handler = configure("WARNING", "text")
        assert handler.formatter is not None
        assert handler.formatter._fmt == TEXT_FORMAT
        with pytest.raises(ValueError, match="log format"):
            configure(logging.INFO, "xml")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


def test_issued_tokens_stay_out_of_reprs() -> None:
    issued = sock8.Sock8(SECRET).issue_token("u1", [ROOM])
    assert issued.token not in repr(issued)


async def test_sock8_gateway_writes_json_lines(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "sock8", "gateway", "--port", str(port)]
    argv += ["--log-format", "json", "--log-level", "debug"]
    errors = (tmp_path / "stderr").open("w+")
    env = {**os.environ, "SOCK8_SECRET": SECRET}
    process = subprocess.Popen(argv, env=env, stderr=errors)  # noqa: S603 - our own arguments
    token = sock8.Signer(OTHER_SECRET).sign("u1", [ROOM])
    try:
        await until(lambda: _answers(port), timeout=20)
        async with peer(f"ws://127.0.0.1:{port}/connect") as client:
            await client.send(event="auth", token=token)
            closed, _ = await client.closed()
            assert closed == 4001
        await until(lambda: '"event": "unauthorized"' in (tmp_path / "stderr").read_text())
    finally:
        stop(process, timeout=20)
        errors.close()
    text = (tmp_path / "stderr").read_text()
    assert token not in text
    assert SECRET not in text
    parsed = [json.loads(line) for line in text.splitlines()]  # every line is one object
    assert {"uvicorn.error", "sock8.gateway"} <= {line["logger"] for line in parsed}
    [refusal] = [line for line in parsed if line["event"] == "unauthorized"]
    assert refusal["reason"] == "bad_signature"


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
