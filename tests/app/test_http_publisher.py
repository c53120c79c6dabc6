"""`HttpPublisher` against a real gateway (and a closed port): URLs, tokens, errors, and both
transports (httpx, and the standard library when httpx is missing)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import jwt
import pytest
import sock8
from sock8 import HttpPublisher, PublishError
from sock8.gateway import Gateway
from sock8.http_publisher import gateway_http_base, publish_audience

from tests.support.http_recorder import recorder
from tests.support.live_server import Served, serve
from tests.support.secret import SECRET

ROOM = "chat.r%201##roomId.messages"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("ws://127.0.0.1:8787/connect", "http://127.0.0.1:8787"),
        ("wss://rt.example/connect", "https://rt.example"),
        ("wss://rt.example/realtime/connect/", "https://rt.example/realtime"),
        ("wss://rt.example/connect?x=1#f", "https://rt.example"),
        ("ws://rt.example", "http://rt.example"),
        ("ws://rt.example/ws", "http://rt.example/ws"),
        ("https://rt.example:8443/base", "https://rt.example:8443/base"),
        ("http://[::1]:80/connect", "http://[::1]:80"),
    ],
)
def test_gateway_urls(url: str, base: str) -> None:
    assert gateway_http_base(url) == base
    publisher = HttpPublisher(url, SECRET)
    assert publisher.base_url == base
    assert publisher.publish_url == base + "/publish"


@pytest.mark.parametrize("url", ["ftp://h/connect", "ws:///connect", "not a url", "http://"])
def test_bad_gateway_urls(url: str) -> None:
    with pytest.raises(sock8.ConfigError, match="gateway URL"):
        HttpPublisher(url, SECRET)


def test_publish_audience() -> None:
    assert publish_audience("sock8") == "sock8:publish"
    assert publish_audience("my-app") == "my-app:publish"
    assert publish_audience(None) == "sock8:publish"


def test_bad_settings() -> None:
    with pytest.raises(sock8.ConfigError):
        HttpPublisher("ws://h/connect", "short")
    with pytest.raises(sock8.ConfigError, match="token_ttl"):
        HttpPublisher("ws://h/connect", SECRET, token_ttl=10)


def test_publish_tokens_are_signed_per_request() -> None:
    publisher = HttpPublisher("ws://h/connect", SECRET, audience="app", issuer="me", token_ttl=300)
    with recorder() as server:
        publisher.publish_url = server.url("/publish")
        publisher.publish("a.b", "1")
        publisher.publish("a.b", "2")
    publisher.close()
    tokens = [r.authorization.removeprefix("Bearer ") for r in server.requests if r.authorization]
    assert len(tokens) == 2
    claims = [
        jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience="app:publish",
            issuer="me",
            options={"verify_exp": False, "verify_iat": False},
        )
        for token in tokens
    ]
    assert all(c["sub"] == "sock8:publisher" and c["channels"] == [] for c in claims)
    # Backdated by the skew allowance, so that a gateway clock a little behind accepts it.
    assert all(c["exp"] - c["iat"] == 300 for c in claims)
    assert all(time.time() - 30 - 5 <= c["iat"] <= time.time() - 30 for c in claims)
    # A fresh token (its own jti) per request: none is kept between requests.
    assert claims[0]["jti"] != claims[1]["jti"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Gateway, Served]]:
    gateway = Gateway(secret=SECRET)
    with serve(gateway.app) as server:
        yield gateway, server


@pytest.fixture
def publisher(served: tuple[Gateway, Served]) -> Iterator[HttpPublisher]:
    publisher = HttpPublisher(served[1].ws_url, SECRET)
    yield publisher
    publisher.close()


def test_publish_and_history(
    served: tuple[Gateway, Served], publisher: HttpPublisher, transport: str
) -> None:
    gateway = served[0]
    channel = f"chat.{transport}##roomId.messages"
    for index in range(3):
        publisher.publish(channel, f'{{"n":{index},"t":"ü"}}', persist=True)
    publisher.publish(channel, '"not kept"')
    assert gateway.broker.history(channel).messages[0].payload == '{"n":2,"t":"ü"}'
    page = publisher.history(channel, limit=2)
    assert [m.payload for m in page.messages] == ['{"n":2,"t":"ü"}', '{"n":1,"t":"ü"}']
    assert all(m.channel == channel for m in page.messages)
    assert page.next_cursor is not None
    rest = publisher.history(channel, limit=2, cursor=page.next_cursor)
    assert [m.payload for m in rest.messages] == ['{"n":0,"t":"ü"}']
    assert rest.next_cursor is None


def test_async_twins(
    served: tuple[Gateway, Served], publisher: HttpPublisher, transport: str
) -> None:
    channel = f"async.{transport}##id"

    async def main() -> list[str]:
        await asyncio.gather(*(publisher.apublish(channel, str(n), persist=True) for n in range(5)))
        page = await publisher.ahistory(channel)
        return sorted(m.payload for m in page.messages)

    assert asyncio.run(main()) == ["0", "1", "2", "3", "4"]


def test_history_errors(publisher: HttpPublisher, transport: str) -> None:
    with pytest.raises(ValueError, match="limit"):
        publisher.history(ROOM, limit=0)
    with pytest.raises(ValueError, match="invalid history cursor"):
        publisher.history(ROOM, cursor="not-a-cursor")
    with pytest.raises(sock8.ChannelError):
        publisher.history("not a channel id")


def test_a_wrong_secret_is_a_clear_publish_error(
    served: tuple[Gateway, Served], transport: str
) -> None:
    other = HttpPublisher(served[1].ws_url, SECRET[::-1])
    with pytest.raises(PublishError, match=r"refused the token \(401\).*share the secret"):
        other.publish(ROOM, "1")
    with pytest.raises(PublishError, match="401"):
        other.history(ROOM)
    other.close()


def test_a_bad_channel_is_a_publish_error(publisher: HttpPublisher, transport: str) -> None:
    with pytest.raises(PublishError, match=r"answered 400.*not a channel id"):
        publisher.publish("chat.*", "1")


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_an_unreachable_gateway_is_a_publish_error(transport: str) -> None:
    publisher = HttpPublisher(f"ws://127.0.0.1:{closed_port()}/connect", SECRET, timeout=5)
    with pytest.raises(PublishError, match="could not reach the sock8 gateway"):
        publisher.publish(ROOM, "1")
    with pytest.raises(PublishError, match="could not reach"):
        asyncio.run(publisher.apublish(ROOM, "1"))
    with pytest.raises(PublishError, match="could not reach"):
        publisher.history(ROOM)
    publisher.close()


def test_emit_wraps_nothing_twice(transport: str) -> None:
    s8 = sock8.Sock8(secret=SECRET, gateway_url=f"ws://127.0.0.1:{closed_port()}/connect")
    tree = s8.channels({"a": str})
    with pytest.raises(PublishError, match="could not reach") as caught:
        tree.a.emit("x")
    assert "publishing to" not in str(caught.value)


# Redirects: a publisher never sends its token to the address a redirect names.

REDIRECTS = [301, 302, 303, 307, 308]


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_is_a_publish_error_and_the_token_stays_home(
    status: int, transport: str
) -> None:
    with recorder(status=200, body=b'{"messages":[],"nextCursor":null}') as elsewhere:
        target = elsewhere.url("/stolen?x=" + "y" * 300)
        with recorder(status=status, headers={"Location": target}) as gateway:
            publisher = HttpPublisher(gateway.url("/connect"), SECRET)
            with pytest.raises(PublishError) as publishing:
                publisher.publish(ROOM, '{"text":"hi"}')
            with pytest.raises(PublishError) as reading:
                publisher.history(ROOM)
            publisher.close()
        # The redirect was answered, not followed: the other server never heard from us.
        assert elsewhere.requests == []
    assert [r.method for r in gateway.requests] == ["POST", "GET"]
    assert all(r.authorization and r.authorization.startswith("Bearer ") for r in gateway.requests)
    for caught in (publishing, reading):
        message = str(caught.value)
        assert f"answered {status}" in message
        assert "redirect" in message
        # The Location is named, cut short.
        assert elsewhere.url("/stolen?x=yyy") in message
        assert "y" * 300 not in message
        assert len(message) < 500


def test_a_redirect_without_location_is_a_publish_error(transport: str) -> None:
    with recorder(status=302) as gateway:
        publisher = HttpPublisher(gateway.url("/connect"), SECRET)
        with pytest.raises(PublishError, match=r"answered 302, a redirect \(no Location\)"):
            publisher.publish(ROOM, "1")
        publisher.close()
