"""The `sock8` command line: `sock8 gateway` (also `python -m sock8 gateway`)."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sock8
import websockets.sync.client
from sock8 import cli
from sock8._gateway_defaults import (
    MAX_FRAME_BYTES,
    PRESENCE_BURST,
    PRESENCE_RATE,
    REQUEST_BURST,
    REQUEST_RATE,
)

from tests.support.processes import gateway_process
from tests.support.secret import SECRET

TIMEOUT = 20.0


def gateway_options() -> list[str]:
    """Every option string of `sock8 gateway`, from the parser itself."""
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    assert isinstance(subparsers.choices, dict)
    gateway = subparsers.choices["gateway"]
    return [
        option
        for action in gateway._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sock8", "gateway", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    options = gateway_options()
    assert {
        "--host",
        "--port",
        "--audience",
        "--issuer",
        "--allowed-origin",
        "--auth-timeout",
        "--max-frame-size",
        "--send-buffer",
        "--history-size",
        "--request-rate",
        "--request-burst",
        "--presence-rate",
        "--presence-burst",
        "--channels",
        "--log-level",
    } <= set(options)
    for option in options:
        assert option in result.stdout
    assert "SOCK8_SECRET" in result.stdout
    assert "SOCK8_CHANNELS" in result.stdout


def test_version() -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["gateway", "--port", "70000"],
        ["gateway", "--port", "http"],
        ["gateway", "--send-buffer", "0"],
        ["gateway", "--auth-timeout", "-1"],
        ["gateway", "--auth-timeout", "soon"],
        ["gateway", "--max-frame-size", "1.5"],
        ["gateway", "--request-burst", "0"],
        ["gateway", "--presence-rate", "0"],
        ["gateway", "--channels"],
        ["gateway", "--log-level", "loud"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage: sock8" in capsys.readouterr().err


class Recorded:
    """Stands in for `uvicorn.run`."""

    def __init__(self) -> None:
        self.app: Any = None
        self.options: dict[str, Any] = {}

    def __call__(self, app: Any, **options: Any) -> None:
        self.app = app
        self.options = options


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    import logging

    import uvicorn

    run = Recorded()
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    return run


def test_the_secret_comes_from_the_environment(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOCK8_SECRET", raising=False)
    assert cli.main(["gateway"]) == 2
    assert "set SOCK8_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("SOCK8_SECRET", "short")
    assert cli.main(["gateway"]) == 2
    assert "32" in capsys.readouterr().err
    assert recorded.app is None


def test_options_reach_the_gateway_and_uvicorn(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    gc.unfreeze()
    argv = [
        "gateway",
        "--host", "0.0.0.0",  # noqa: S104 - not bound: uvicorn.run is recorded
        "--port", "9000",
        "--audience", "my-app",
        "--issuer", "https://app.example",
        "--leeway", "5",
        "--allowed-origin", "https://a.example",
        "--allowed-origin", "https://b.example",
        "--auth-timeout", "3",
        "--max-frame-size", "100000",
        "--max-publish-size", "2000",
        "--max-presence-size", "300",
        "--send-buffer", "4096",
        "--history-size", "7",
        "--request-rate", "10.5",
        "--request-burst", "40",
        "--presence-rate", "2",
        "--presence-burst", "3",
        "--ping-interval", "15",
        "--ping-timeout", "5",
        "--root-path", "/rt",
        "--log-level", "warning",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    # What was built before serving is out of the cyclic collector's sight.
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    gateway = recorded.app.state.gateway
    limits = gateway.limits
    assert gateway.allowed_origins == {"https://a.example", "https://b.example"}
    assert limits.auth_timeout == 3
    assert limits.max_frame_bytes == 100_000
    assert limits.max_publish_bytes == 2000
    assert limits.max_presence_bytes == 300
    assert limits.send_buffer == 4096
    assert limits.history_size == 7
    assert limits.leeway == 5
    assert (limits.request_rate, limits.request_burst) == (10.5, 40)
    assert (limits.presence_rate, limits.presence_burst) == (2, 3)
    assert gateway.verifier.audience == "my-app"
    assert gateway.verifier.issuer == "https://app.example"
    assert gateway.publish_verifier.audience == "my-app:publish"
    assert isinstance(gateway.broker, sock8.MemoryBroker)
    assert "history_size=7" in repr(gateway.broker)
    options = recorded.options
    assert options["host"] == "0.0.0.0"  # noqa: S104
    assert options["port"] == 9000
    # WebSockets go to picows behind the front step, which pings as asked; uvicorn does HTTP.
    assert options["ws"] == "none"
    side = options["http"].keywords["side"]
    assert (side.gateway, side.ping_interval, side.ping_timeout) == (gateway, 15, 5)
    assert options["root_path"] == "/rt"
    assert options["log_level"] == "warning"


def test_several_workers_need_redis(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    monkeypatch.delenv("SOCK8_REDIS_URL", raising=False)
    assert cli.main(["gateway", "--workers", "2"]) == 2
    error = capsys.readouterr().err
    assert "--workers 2 needs --redis" in error
    assert "silently miss" in error
    assert len(error.strip().splitlines()) == 1
    assert recorded.app is None  # nothing was served


def test_defaults(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    assert cli.main(["gateway"]) == 0
    gateway = recorded.app.state.gateway
    assert recorded.options["host"] == "127.0.0.1"
    assert recorded.options["port"] == 8787
    assert recorded.options["ws"] == "none"
    assert gateway.allowed_origins is None
    assert gateway.verifier.audience == "sock8"
    limits = gateway.limits
    assert limits.max_frame_bytes == MAX_FRAME_BYTES
    assert (limits.request_rate, limits.request_burst) == (REQUEST_RATE, REQUEST_BURST)
    assert (limits.presence_rate, limits.presence_burst) == (PRESENCE_RATE, PRESENCE_BURST)
    assert not gateway.rules.known  # no tree: any presence object on any granted channel


# --channels: the app's channel tree for a gateway of its own

APP_MODULE = """
import types

import sock8
from pydantic import BaseModel


class Typing(BaseModel):
    typing: bool


s8 = sock8.Sock8(secret="cli-channels-secret-0123456789abcdef-0")
channels = s8.channels({
    "chat.{roomId}.messages": sock8.channel(str, presence=Typing, history=True),
    "admin.logs": str,
})
news = s8.channels({"news": sock8.channel(str, history=True)})
both = (channels, news)
mixed = [channels, {"news": str}]
nothing = []
settings = {"channels": channels}
realtime = types.SimpleNamespace(channels=channels)
"""

ROOM = "chat.r1##roomId.messages"


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A directory holding the app's module, made current, and not on `sys.path`: as when the
    installed `sock8` script runs there. Yields the module's name."""
    name = f"cli_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APP_MODULE)
    (tmp_path / "broken_app.py").write_text(
        "import sock8\nraise RuntimeError('no database\\nhere')\n"
    )
    monkeypatch.chdir(tmp_path)
    here = {"", ".", str(tmp_path)}
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in here])
    yield name
    for module in (name, "broken_app"):
        sys.modules.pop(module, None)


def test_channels_bring_the_tree_to_the_gateway(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, app_dir: str
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    assert cli.main(["gateway", "--channels", f"{app_dir}:channels"]) == 0
    rules = recorded.app.state.gateway.rules
    assert rules.known
    assert rules.presence_allowed(ROOM)
    assert not rules.presence_allowed("admin.logs")  # defined without presence
    assert not rules.presence_allowed("other.channel")  # not in the tree
    assert rules.history(ROOM) is True
    assert rules.presence_validator(ROOM)({"typing": 1}) == {"typing": True}
    with pytest.raises(ValueError, match="typing"):
        rules.presence_validator(ROOM)({"typing": "maybe"})


def test_channels_from_the_environment_and_dotted_or_several(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, app_dir: str
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    monkeypatch.setenv("SOCK8_CHANNELS", f"{app_dir}:both")
    assert cli.main(["gateway"]) == 0
    rules = recorded.app.state.gateway.rules
    assert rules.history("news") is True
    assert rules.presence_allowed(ROOM)
    # The option wins over the environment; an attribute path may be dotted.
    assert cli.main(["gateway", "--channels", f"{app_dir}:realtime.channels"]) == 0
    rules = recorded.app.state.gateway.rules
    assert rules.history("news") is None
    assert rules.presence_allowed(ROOM)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("{app}", "--channels '{app}': expected MODULE:ATTR, e.g. myapp:channels"),
        ("{app}:", "--channels '{app}:': expected MODULE:ATTR, e.g. myapp:channels"),
        (
            "no_such_module_xyz:channels",
            "--channels 'no_such_module_xyz:channels': cannot import 'no_such_module_xyz': "
            "ModuleNotFoundError: No module named 'no_such_module_xyz'",
        ),
        (
            "broken_app:channels",
            "--channels 'broken_app:channels': cannot import 'broken_app': "
            "RuntimeError: no database here",
        ),
        ("{app}:missing", "--channels '{app}:missing': '{app}' has no attribute 'missing'"),
        (
            "{app}:settings",
            "--channels '{app}:settings': a dict, not a ChannelTree (or a list or tuple of them)",
        ),
        (
            "{app}:mixed",
            "--channels '{app}:mixed': a list holding a dict, not a ChannelTree "
            "(or a list or tuple of them)",
        ),
        (
            "{app}:nothing",
            "--channels '{app}:nothing': a list that is empty, not a ChannelTree "
            "(or a list or tuple of them)",
        ),
    ],
)
def test_channels_that_cannot_be_used_exit_2_with_one_line(
    recorded: Recorded,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    app_dir: str,
    spec: str,
    error: str,
) -> None:
    monkeypatch.setenv("SOCK8_SECRET", SECRET)
    assert cli.main(["gateway", "--channels", spec.format(app=app_dir)]) == 2
    assert capsys.readouterr().err == f"sock8 gateway: {error.format(app=app_dir)}\n"
    assert recorded.app is None


def test_python_m_sock8_gateway_serves() -> None:
    """The real thing: a subprocess on a free port, a client connects, SIGTERM stops it."""
    with gateway_process() as gateway:
        port = gateway.port
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=TIMEOUT)
        assert health.json() == {"ok": True, "connections": 0, "broker": "memory"}
        token = sock8.Signer(SECRET).sign("u1", ["admin.logs"])
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/connect", open_timeout=TIMEOUT
        ) as ws:
            # permessage-deflate is off.
            assert ws.response is not None
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            ws.send(json.dumps({"event": "auth", "token": token}))
            assert json.loads(ws.recv(timeout=TIMEOUT))["event"] == "welcome"
        gateway.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert gateway.process.wait(timeout=TIMEOUT) in (0, -signal.SIGTERM)
        assert "Finished server process" in gateway.log(TIMEOUT)  # stderr closed: all of it
