"""`sock8.Client`: an asyncio client of the sock8 gateway (`pip install 'sock8[client]'`).

    async with sock8.Client("https://app.example/api/channels", cookies=session) as client:
        await client.set_presence(room_id, {"typing": True})
        async for message in client:
            print(message.channel, message.payload)

It behaves like the Centrifugo, Pusher and Ably clients; docs/protocol.md is the wire contract.

- Tokens come from the app's `with_sock8` route, `POST {auth_url}/authenticate`, sent with the
  headers and cookies the client was given, so the app's own session and CSRF checks apply.
- The client connects to the `endpoint` that route returns and sends the token in its first
  frame (tokens never travel in URLs). It refuses a `ws://` endpoint from an `https://` auth
  route (the token would travel in clear text) unless given `allow_insecure_endpoint=True`,
  and it never follows a redirect from the app's routes (it would take the cookies along).
- A lost connection is reopened after a capped exponential backoff with full jitter
  (`sock8._backoff.Backoff`). The cached token is reused while it is fresh, and the channels the
  caller unsubscribed from and the presence it set are restored after each reconnect.
- The token is refreshed on the live connection shortly before it expires, without
  reconnecting. Deliveries of channels the new token no longer grants stop at once.
- A request the gateway refuses (`forbidden`, `invalid_presence`, `not_subscribed`,
  `rate_limited`) raises `RequestRefused` with that code as soon as the error arrives; the
  connection stays open. The client's own token refresh retries a `rate_limited` refusal after
  a backoff delay.
- The client stops for good, in the `closed` state, when the app refuses it (401 or 403 from the
  auth route), when the auth route answers something retrying cannot fix (a 4xx, a redirect, a
  malformed body, a refused endpoint: `AuthError` with `retryable` false), when the gateway
  refuses a freshly fetched token (close code 4001 twice in a row), and on close codes that
  retrying cannot fix (4400 bad frame, 4003 policy). Iteration then raises the error, which
  `Client.error` also holds.

The work is split by what it holds: `client` (`Client`, the facade), `lifecycle` (connecting,
reconnecting, requests on the socket), `refresher` (the refresh timer), `dispatch` (server frames
and the requests they answer), `grants` (what was granted and what the caller set), `route` (the
app's auth route: tokens, history) and `inbox` (messages waiting for the consumer).

Optional dependencies (`websockets`, `httpx`) are imported when a client is created, so that
`import sock8` works without the `client` extra.
"""

from __future__ import annotations

from sock8._backoff import Backoff
from sock8.client.client import Client
from sock8.client.errors import (
    AuthError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    Forbidden,
    ProtocolError,
    RequestRefused,
    Unauthorized,
)
from sock8.client.values import (
    ChannelReset,
    ClientMessage,
    ConnectionState,
    History,
    HistoryItem,
    PresenceEntry,
    PresenceUpdate,
)

__all__ = [
    "AuthError",
    "Backoff",
    "ChannelReset",
    "Client",
    "ClientClosed",
    "ClientError",
    "ClientMessage",
    "ConnectionLost",
    "ConnectionState",
    "Forbidden",
    "History",
    "HistoryItem",
    "PresenceEntry",
    "PresenceUpdate",
    "ProtocolError",
    "RequestRefused",
    "Unauthorized",
]
