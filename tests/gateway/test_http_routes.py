"""The gateway's HTTP side over real sockets: `POST /publish`, `GET /history/{id}`,
`GET /health`, and both emit paths: in-process through `create_app(s8)` and over HTTP through
the default `HttpPublisher`."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY
from urllib.parse import quote

import httpx
import pytest
import sock8
from pydantic import BaseModel
from sock8.gateway import create_app
from sock8.gateway.app import Gateway
from sock8.http_publisher import HttpPublisher
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Mount

from tests.gateway.harness import LOGS, NOW, ROOM, Setup, both_servers, running
from tests.support.live_server import peer, serve, until
from tests.support.secret import OTHER_SECRET, SECRET

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = [pytest.mark.anyio, both_servers]


class ChatMessage(BaseModel):
    text: str


@pytest.fixture
def now() -> Iterator[Setup]:
    """A gateway whose (manual) clock starts at the real time, for tokens signed by the app."""
    with running(start=None) as setup:
        yield setup


# POST /publish


async def test_publish_delivers_to_subscribers(setup: Setup) -> None:
    async with peer(setup.server.ws_url, setup.token(channels=[ROOM])) as client:
        body = {"channel": ROOM, "payload": {"text": "hi", "n": [1, 2.5]}}
        response = await asyncio.to_thread(setup.post, body, setup.publish_token())
        assert response.status_code == 202, response.text
        assert response.json() == {"ok": True}
        assert await client.recv() == {"channel": ROOM, "payload": {"text": "hi", "n": [1, 2.5]}}
    assert setup.gateway.stats.published == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "client token",
        "other secret",
        "other audience",
        "expired",
        "basic scheme",
        "empty bearer",
    ],
)
def test_publish_without_a_publish_token_is_401(setup: Setup, authorization: str | None) -> None:
    token = {
        None: None,
        "client token": setup.token(channels=[ROOM]),
        "other secret": setup.publish_token(secret=OTHER_SECRET),
        "other audience": setup.publish_token(audience="other:publish"),
        "expired": sock8.Signer(SECRET, audience="sock8:publish", ttl=60).sign(
            "p", (), now=NOW - 120
        ),
        "basic scheme": None,
        "empty bearer": " ",
    }[authorization]
    headers = {}
    if authorization == "basic scheme":
        headers["Authorization"] = "Basic dTpw"
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}".strip()
    body = json.dumps({"channel": ROOM, "payload": 1}).encode()
    response = httpx.post(setup.server.url("/publish"), content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert setup.gateway.stats.published == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"not json", "body is not JSON"),
        (b'{"channel": "admin.logs", "payload": NaN}', "body is not JSON"),
        (b"[1]", "body must be an object with channel and payload"),
        (b'{"channel": "admin.logs"}', "body must be an object with channel and payload"),
        (b'{"channel": 5, "payload": 1}', "channel must be a string"),
        (b'{"channel": "admin.*", "payload": 1}', "not a channel id"),
        (b'{"channel": "chat.r 1##roomId", "payload": 1}', "not a channel id"),
        (
            b'{"channel": "admin.logs", "payload": 1, "persist": "yes"}',
            "persist must be true or false",
        ),
    ],
)
def test_publish_with_a_bad_body_is_400(setup: Setup, body: bytes, detail: str) -> None:
    response = setup.post(body, setup.publish_token())
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "detail": response.json()["detail"]}
    # "body is not JSON" says where, after a colon.
    assert response.json()["detail"].startswith(detail)


DEEPEST = sock8._core.MAX_PAYLOAD_DEPTH


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # Two readers, two channels: json.loads keeps the last, another reader the first.
        (f'{{"channel": "{LOGS}", "payload": "hi", "channel": "{ROOM}"}}', "duplicate"),
        (f'{{"channel": "{LOGS}", "payload": {{"to": "a", "to": "b"}}}}', "duplicate"),
        (f'{{"channel": "{LOGS}", "payload": [{{"k": 1, "\\u006b": 2}}]}}', "duplicate"),
        (f'{{"channel": "{LOGS}", "payload": 1, "persist": false, "persist": true}}', "duplicate"),
        # Not JSON numbers: a double cannot hold them, and json.loads reads them as infinity.
        (f'{{"channel": "{LOGS}", "payload": 1e400}}', "out of range"),
        (f'{{"channel": "{LOGS}", "payload": [-1e400]}}', "out of range"),
        (f'{{"channel": "{LOGS}", "payload": {"9" * 400}}}', "out of range"),
        (f'{{"channel": "{LOGS}", "payload": Infinity}}', "expected value"),
        (f'{{"channel": "{LOGS}", "payload": "\\ud800"}}', "surrogate"),
        (f'{{"channel": "{LOGS}", "payload": {nested(DEEPEST + 1)}}}', "nested deeper"),
        ('\ufeff{"channel": "admin.logs", "payload": 1}', "expected value"),
    ],
)
def test_publish_with_a_body_that_is_not_strict_json_is_400(
    setup: Setup, body: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = setup.post(body.encode(), setup.publish_token())
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    assert response.json()["detail"].startswith("body is not JSON: ")
    assert why in response.json()["detail"]
    assert setup.gateway.stats.published == 0
    assert not caplog.records  # a refusal, not a failure with a traceback


def test_publish_takes_payloads_as_deep_as_publishers_may_send(setup: Setup) -> None:
    token = setup.publish_token()
    body = f'{{"channel": "{LOGS}", "payload": {nested(DEEPEST)}, "persist": true}}'
    assert setup.post(body.encode(), token).status_code == 202
    (message,) = setup.gateway.broker.history(LOGS).messages
    assert message.payload == nested(DEEPEST)


def test_publish_over_the_size_limit_is_413() -> None:
    with running(max_publish_bytes=100) as setup:
        token = setup.publish_token()
        assert setup.post({"channel": LOGS, "payload": "x" * 50}, token).status_code == 202
        assert setup.post({"channel": LOGS, "payload": "x" * 100}, token).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            yield b'{"channel": "admin.logs", "payload": "'
            yield b"x" * 200
            yield b'"}'

        response = httpx.post(
            setup.server.url("/publish"),
            content=chunks(),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 413


def test_publish_persists_only_when_asked_without_a_tree(setup: Setup) -> None:
    token = setup.publish_token()
    setup.post({"channel": ROOM, "payload": "kept", "persist": True}, token)
    setup.post({"channel": ROOM, "payload": "gone"}, token)
    setup.post({"channel": ROOM, "payload": "gone too", "persist": False}, token)
    body = setup.history(ROOM, setup.token(channels=[ROOM])).json()
    assert body == {
        "messages": [{"timestamp": int(NOW * 1000), "payload": "kept"}],
        "nextCursor": None,
    }


def test_the_tree_decides_persistence_when_the_gateway_has_it() -> None:
    s8 = sock8.Sock8(secret=SECRET, publisher=sock8.MemoryBroker())
    tree = s8.channels({"chat.{roomId}.messages": sock8.channel(str, history=True), "a.b": str})
    gateway = Gateway(s8, channels=tree)
    with serve(gateway.app) as server:
        token = sock8.Signer(SECRET, audience="sock8:publish").sign("p", ())
        for body in [
            {"channel": ROOM, "payload": "kept though persist is false", "persist": False},
            {"channel": "a.b", "payload": "not kept though persist is true", "persist": True},
            {"channel": "x.y", "payload": "unknown channel: the body decides", "persist": True},
        ]:
            response = httpx.post(
                server.url("/publish"), json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 202
    assert [m.payload for m in gateway.broker.history(ROOM).messages] == [
        '"kept though persist is false"'
    ]
    assert gateway.broker.history("a.b").messages == ()
    assert len(gateway.broker.history("x.y").messages) == 1


# GET /history/{id}


def test_history_with_a_granting_client_token(setup: Setup) -> None:
    token = setup.publish_token()
    for index in range(5):
        setup.post({"channel": ROOM, "payload": {"n": index}, "persist": True}, token)
    client = setup.token()
    response = setup.history(ROOM, client, "?limit=2")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    first = response.json()
    assert [m["payload"]["n"] for m in first["messages"]] == [4, 3]
    second = setup.history(ROOM, client, f"?limit=2&cursor={first['nextCursor']}").json()
    assert [m["payload"]["n"] for m in second["messages"]] == [2, 1]
    assert setup.history(ROOM, client, "?limit=1000").json()["nextCursor"] is None


@pytest.mark.parametrize("kind", ["no token", "other channel", "publish token", "other secret"])
def test_history_without_a_grant_is_401(setup: Setup, kind: str) -> None:
    setup.post({"channel": ROOM, "payload": 1, "persist": True}, setup.publish_token())
    token = {
        "no token": None,
        "other channel": setup.token(channels=[LOGS]),
        "publish token": setup.publish_token(),
        "other secret": sock8.Signer(OTHER_SECRET).sign("u1", [ROOM]),
    }[kind]
    response = setup.history(ROOM, token)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


@pytest.mark.parametrize(
    ("channel", "query"),
    [("admin.*", ""), (ROOM, "?limit=ten"), (ROOM, "?cursor=nope")],
)
def test_history_bad_query_is_400(setup: Setup, channel: str, query: str) -> None:
    response = setup.history(channel, setup.token(channels=[ROOM]), query)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


# Every answer is JSON, the router's refusals too


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/history/a%2Fb"),  # an escaped slash: two path segments to the router
        ("GET", "/nowhere"),
        ("GET", "/connect"),  # the WebSocket route does not answer plain HTTP
        ("POST", "/history"),
    ],
)
def test_an_unknown_path_is_a_json_404(setup: Setup, method: str, path: str) -> None:
    response = httpx.request(method, setup.server.url(path), timeout=10)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "not_found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/publish", "POST"),
        ("PUT", "/publish", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", f"/history/{quote(ROOM, safe='')}", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(
    setup: Setup, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, setup.server.url(path), timeout=10)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    # Starlette keeps a route's methods in a set: any order.
    assert set(response.headers["allow"].split(", ")) == set(allow.split(", "))
    assert response.json() == {"error": "method_not_allowed"}


def test_a_mounted_gateway_answers_json_too() -> None:
    web = Starlette(routes=[Mount("/realtime", app=create_app(secret=SECRET))])
    with TestClient(web) as client:
        assert client.get("/realtime/publish").json() == {"error": "method_not_allowed"}
        assert client.get("/realtime/history/a%2Fb").json() == {"error": "not_found"}


# GET /health


async def test_health_counts_connections(setup: Setup) -> None:
    def health() -> Any:
        response = httpx.get(setup.server.url("/health"))
        assert response.status_code == 200
        return response.json()

    assert await asyncio.to_thread(health) == {"ok": True, "connections": 0, "broker": "memory"}
    async with peer(setup.server.ws_url, setup.token(channels=[LOGS])):
        assert await asyncio.to_thread(health) == {"ok": True, "connections": 1, "broker": "memory"}
    await until(lambda: setup.gateway.stats.connections == 0)


# Emit: in-process and over HTTP


def make_s8(gateway_url: str = sock8.app.DEFAULT_GATEWAY_URL) -> tuple[sock8.Sock8, Any]:
    s8 = sock8.Sock8(secret=SECRET, gateway_url=gateway_url)
    channels = s8.channels(
        {"chat.{roomId}.messages": sock8.channel(ChatMessage, history=True), "admin.logs": str}
    )
    return s8, channels


async def test_emit_goes_in_process_to_a_gateway_made_from_the_app() -> None:
    s8, channels = make_s8()
    assert isinstance(s8.publisher, HttpPublisher)
    app = create_app(s8, channels=channels)
    gateway = app.state.gateway
    assert s8.publisher is gateway.broker  # no HTTP between the app and its own gateway
    room = channels.chat.messages.for_(roomId="r 1")
    token = s8.issue_token("u1", [room.id, LOGS]).token
    with serve(app) as server:
        async with peer(server.ws_url, token) as client:
            await asyncio.to_thread(room.emit, {"text": "from a thread"})
            # The room keeps history: its messages are numbered in its stream.
            assert await client.recv() == {
                "channel": room.id,
                "payload": {"text": "from a thread"},
                "offset": 1,
                "epoch": ANY,
            }
            await channels.admin.logs.aemit("from another loop")
            assert await client.recv() == {"channel": LOGS, "payload": "from another loop"}
    page = s8.publisher.history(room.id)
    assert [m.payload for m in page.messages] == ['{"text":"from a thread"}']


def test_create_app_uses_a_broker_the_app_already_has() -> None:
    broker = sock8.MemoryBroker()
    s8 = sock8.Sock8(secret=SECRET, publisher=broker)
    assert create_app(s8).state.gateway.broker is broker
    assert s8.publisher is broker
    assert create_app(s8).state.gateway.broker is broker  # a second gateway shares it


async def test_emit_over_http_reaches_a_gateway_in_another_server(now: Setup) -> None:
    setup = now
    s8, channels = make_s8(setup.server.ws_url)
    publisher = s8.publisher
    assert isinstance(publisher, HttpPublisher)
    assert publisher.publish_url == setup.server.url("/publish")
    room = channels.chat.messages.for_(roomId="r 1")
    try:
        async with peer(setup.server.ws_url, setup.token(channels=[room.id, LOGS])) as client:
            await asyncio.to_thread(room.emit, {"text": "sync"})
            sync = await client.recv()
            assert sync == {
                "channel": room.id,
                "payload": {"text": "sync"},
                "offset": 1,
                "epoch": ANY,
            }
            await room.aemit({"text": "async"})
            assert await client.recv() == {
                "channel": room.id,
                "payload": {"text": "async"},
                "offset": 2,
                "epoch": sync["epoch"],
            }
            await channels.admin.logs.aemit("not kept")
            assert await client.recv() == {"channel": LOGS, "payload": "not kept"}
        # history=True on the channel became persist=True on the wire.
        page = await publisher.ahistory(room.id)
        assert [m.payload for m in page.messages] == ['{"text":"async"}', '{"text":"sync"}']
        assert [m.timestamp for m in page.messages] == [int(setup.clock.time() * 1000)] * 2
        assert (await publisher.ahistory(LOGS)).messages == ()
    finally:
        publisher.close()


def test_with_sock8_history_reads_a_remote_gateway_through_the_publisher(now: Setup) -> None:
    setup = now
    from sock8.integrations.starlette import with_sock8

    s8, channels = make_s8(setup.server.ws_url)
    room = channels.chat.messages.for_(roomId="r 1")
    for index in range(3):
        room.emit({"text": f"m{index}"})

    def authorize(conn: sock8.Connection[Any]) -> None:
        conn.identify_as("u1")
        conn.grant(room)

    web = Starlette(routes=[Mount("/api/channels", app=with_sock8(s8, authorize=authorize))])
    with TestClient(web) as client:
        response = client.get(f"/api/channels/{quote(room.id, safe='')}/history?limit=2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["payload"]["text"] for m in body["messages"]] == ["m2", "m1"]
    assert body["nextCursor"] is not None
    assert isinstance(s8.publisher, HttpPublisher)
    s8.publisher.close()


async def test_mounted_next_to_the_auth_route_end_to_end() -> None:
    """The README's layout: auth route and gateway in one Starlette app, under prefixes."""
    from sock8.integrations.starlette import with_sock8

    s8, channels = make_s8()
    room = channels.chat.messages.for_(roomId="r 1")

    def authorize(conn: sock8.Connection[Any]) -> None:
        conn.identify_as("u1")
        conn.grant(room)

    realtime = create_app(s8, channels=channels)
    app = Starlette(
        routes=[
            Mount("/api/channels", app=with_sock8(s8, authorize=authorize)),
            Mount("/realtime", app=realtime),
        ]
    )
    with serve(app) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            issued = (await http.post("/api/channels/authenticate")).json()
            ws_url = f"ws://127.0.0.1:{server.port}/realtime/connect"
            async with peer(ws_url, issued["token"]) as client:
                assert client.welcome["channels"] == [room.id]
                await room.aemit({"text": "in-process"})
                assert await client.recv() == {
                    "channel": room.id,
                    "payload": {"text": "in-process"},
                    "offset": 1,
                    "epoch": ANY,
                }
            path = f"/{quote(room.id, safe='')}/history"
            via_app = (await http.get("/api/channels" + path)).json()
            via_gateway = await http.get(
                "/realtime/history" + path.removesuffix("/history"),
                headers={"Authorization": f"Bearer {issued['token']}"},
            )
            assert via_app["messages"][0]["payload"] == {"text": "in-process"}
            assert via_gateway.json() == via_app
            assert (await http.get("/realtime/health")).json()["ok"] is True
