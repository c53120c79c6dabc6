"""`Connection`: what the app's `authorize(conn)` sees and fills in."""

from __future__ import annotations

import uuid
from typing import Any, Generic, final

from typing_extensions import TypeVar

from sock8._core import parse_channel
from sock8.channels import ChannelRef
from sock8.errors import ChannelError, reworded
from sock8.tree import ChannelTree

__all__ = ["Connection"]

RequestT = TypeVar("RequestT", default=Any)


@final
class Connection(Generic[RequestT]):
    """One request to the auth route, as seen by `authorize(conn)`.

    `authorize` authenticates the user from `conn.request`, then calls `identify_as` and
    `grant`. Nothing is public: a channel reaches the token only through `grant`, and a request
    that grants nothing is refused with 401.

    Type it as `Connection[Request]` with your framework's request class to type `request`.
    """

    __slots__ = ("_channels", "_identity", "request")

    def __init__(self, request: RequestT) -> None:
        self.request: RequestT = request
        """The framework's own request object (Starlette/FastAPI `Request`, Flask `Request`,
        Django `HttpRequest`, aiohttp `web.Request`)."""
        self._identity: str | None = None
        self._channels: dict[str, None] = {}

    def identify_as(self, identity: str) -> None:
        """Set the identity the token is issued to (its `sub`); the last call wins.

        Raises:
            TypeError: `identity` is not a `str`.
            ValueError: `identity` is empty.
        """
        if not isinstance(identity, str):
            raise TypeError(f"identity must be a str, not {type(identity).__name__}")
        if not identity:
            raise ValueError("identity must not be empty")
        self._identity = identity

    def grant(self, *channels: ChannelRef | ChannelTree | str) -> None:
        """Allow these channels: refs (`channels.chat.messages.for_(roomId=r)`), static nodes
        (`channels.admin.logs`), or wire-id strings.

        A string is taken as a wire id and must be canonical (the Rust core parses it): use it
        for ids you stored or received, never to build one by hand.

        Raises:
            ChannelError: a node that still needs `for_()`, or a string that is not a wire id.
            TypeError: anything else.
        """
        ids = []
        for item in channels:
            if isinstance(item, ChannelRef | ChannelTree):
                ids.append(item.id)
            elif isinstance(item, str):
                try:
                    parse_channel(item)
                except ChannelError as exc:
                    raise reworded(exc, f"cannot grant {item!r}: {exc}") from None
                ids.append(item)
            else:
                raise TypeError(
                    f"grant() takes channel refs, tree nodes or wire ids, not {type(item).__name__}"
                )
        # All or nothing: a bad argument grants none of the call's channels.
        self._channels.update(dict.fromkeys(ids))

    @property
    def identity(self) -> str:
        """The identity given to `identify_as`, or a random one (fixed per connection)."""
        if self._identity is None:
            self._identity = str(uuid.uuid4())
        return self._identity

    @property
    def channels(self) -> tuple[str, ...]:
        """The granted wire ids, sorted and without duplicates (as the token holds them)."""
        return tuple(sorted(self._channels))

    def allows(self, channel: str) -> bool:
        """Whether the wire id `channel` was granted."""
        return channel in self._channels

    def __repr__(self) -> str:
        return f"<Connection identity={self._identity!r} channels={len(self._channels)}>"
