"""`sock8.Client`: an asyncio client of the sock8 gateway (`pip install 'sock8[client]'`).

    async with sock8.Client("https://app.example/api/channels", cookies=session) as client:
        await client.set_presence(room_id, {"typing": True})
        async for message in client:
            print(message.channel, message.payload)

It behaves like the Centrifugo, Pusher and Ably clients; docs/protocol.md is the wire contract.

- Tokens come from the app's `with_sock8` route, `POST {auth_url}/authenticate`, sent with the
  headers and cookies the client was given, so the app's own session and CSRF checks apply.
- The client connects to the `endpoint` that route returns and sends the token in its first
  frame (tokens never travel in URLs).
- A lost connection is reopened after a capped exponential backoff with full jitter
  (`sock8._backoff.Backoff`). The cached token is reused while it is fresh, and the channels the
  caller unsubscribed from and the presence it set are restored after each reconnect.
- The token is refreshed on the live connection shortly before it expires, without
  reconnecting. Deliveries of channels the new token no longer grants stop at once.
- The client stops for good, in the `closed` state, when the app refuses it (401 or 403 from the
  auth route), when the gateway refuses a freshly fetched token (close code 4001 twice in a row),
  and on close codes that retrying cannot fix (4400 bad frame, 4003 policy). Iteration then
  raises the error, which `Client.error` also holds.

Optional dependencies (`websockets`, `httpx`) are imported when a client is created, so that
`import sock8` works without the `client` extra.
"""

from __future__ import annotations

from sock8._backoff import Backoff
from sock8.client.connection import Client
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
