"""Channel definitions (`channel`, `ChannelSpec`) and resolved channels (`ChannelRef`).

A definition pairs a message schema with the channel's options. A `ChannelRef` is one concrete
channel: a wire id rendered by the Rust core, plus the definition it came from; it is what
`Connection.grant` takes and what `emit` publishes to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, final

from pydantic import JsonValue, PydanticSchemaGenerationError, PydanticUserError, TypeAdapter

from sock8._core import ChannelTemplate
from sock8.errors import ChannelError, PublishError, reworded
from sock8.publisher import Publisher

__all__ = ["ChannelRef", "ChannelSpec", "Owner", "channel"]

_CONFIG_KEYS = frozenset({"presence", "history"})


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel definition, as written by `channel()` or a `(schema, config)` tuple.

    Attributes:
        schema: the message schema: a pydantic model, any type pydantic's `TypeAdapter`
            accepts, or `None` for any JSON value.
        presence: the presence-data schema, or `None` for a channel without presence.
        history: whether emitted messages are kept for the history route.
    """

    schema: Any
    presence: Any = None
    history: bool = False


def channel(schema: Any, *, presence: Any = None, history: bool = False) -> ChannelSpec:
    """Define a channel with options; the tuple form `(schema, {"history": True})` is equivalent.

    Arguments:
        schema: a pydantic model, any type pydantic's `TypeAdapter` accepts, or `None` (any JSON).
        presence: the schema of each connection's presence data; `None` disables presence.
        history: keep emitted messages, for the history route.

    Schemas are compiled when the tree is built by `Sock8.channels`, where errors name the key.
    """
    if not isinstance(history, bool):
        raise ChannelError(f"history must be True or False, not {history!r}")
    return ChannelSpec(schema, presence, history)


def as_spec(origin: str, value: object) -> ChannelSpec:
    """Read one definition value (a `ChannelSpec`, a `(schema,)` or `(schema, config)` tuple,
    or a bare schema) into a `ChannelSpec`; errors name `origin`, the quoted key."""
    if isinstance(value, ChannelSpec):
        return value
    if not isinstance(value, tuple):
        return ChannelSpec(value)
    if len(value) not in (1, 2):
        raise ChannelError(f"channel {origin}: a tuple definition is (schema,) or (schema, config)")
    config = value[1] if len(value) == 2 else {}
    if not isinstance(config, Mapping):
        raise ChannelError(f"channel {origin}: the config must be a mapping, not {config!r}")
    unknown = sorted(str(name) for name in config if name not in _CONFIG_KEYS)
    if unknown:
        raise ChannelError(
            f"channel {origin}: unknown config key {unknown[0]!r}; expected presence, history"
        )
    try:
        return channel(
            value[0], presence=config.get("presence"), history=config.get("history", False)
        )
    except ChannelError as exc:
        raise reworded(exc, f"channel {origin}: {exc}") from None


def _adapter(origin: str, what: str, schema: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(JsonValue if schema is None else schema)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        # pydantic's first line says what is wrong; the rest is advice about pydantic internals.
        reason = str(exc).partition("\n")[0]
        raise ChannelError(f"channel {origin}: {what} {schema!r} is invalid: {reason}") from None


class Owner(Protocol):
    """What a channel needs of the app whose tree defines it (`Sock8` is one)."""

    @property
    def publisher(self) -> Publisher:
        """Where `emit` publishes; read at every emit, since a gateway mounted in the same
        process replaces the default publisher after the tree is built."""


@final
class Endpoint:
    """A compiled definition: template, spec and validators. Internal to the tree."""

    __slots__ = ("adapter", "owner", "presence_adapter", "spec", "template")

    def __init__(self, owner: Owner, origin: str, template: ChannelTemplate, spec: ChannelSpec):
        self.owner = owner
        self.template = template
        self.spec = spec
        self.adapter = _adapter(origin, "schema", spec.schema)
        self.presence_adapter = (
            None if spec.presence is None else _adapter(origin, "presence schema", spec.presence)
        )


@final
class ChannelRef:
    """One concrete channel: `channels.chat.messages.for_(roomId="r 1")` or `channels.admin.logs`.

    Equal refs have equal wire ids. Grant it with `Connection.grant`; publish with `emit`.
    """

    __slots__ = ("_endpoint", "_id", "_params")

    def __init__(self, endpoint: Endpoint, params: Mapping[str, str | int]) -> None:
        self._endpoint = endpoint
        self._params = dict(params)
        # The Rust core renders and escapes: the one implementation of the grammar.
        self._id = endpoint.template.render(self._params)

    @property
    def id(self) -> str:
        """The wire id, e.g. `chat.r%201##roomId.messages`."""
        return self._id

    @property
    def template(self) -> str:
        """The full template, e.g. `chat.{roomId}.messages`."""
        return self._endpoint.template.template

    @property
    def params(self) -> Mapping[str, str | int]:
        """The parameter values this ref was made with."""
        return dict(self._params)

    @property
    def spec(self) -> ChannelSpec:
        """The channel's definition."""
        return self._endpoint.spec

    def encode(self, payload: Any) -> str:
        """Validate `payload` with the channel's schema and encode it as JSON text.

        Raises:
            pydantic.ValidationError: the payload does not match the schema.
            PublishError: the validated value cannot be written as JSON.
        """
        adapter = self._endpoint.adapter
        value = adapter.validate_python(payload)
        try:
            return adapter.dump_json(value).decode()
        except ValueError as exc:
            raise PublishError(f"message for {self._id!r} is not JSON-encodable: {exc}") from exc

    def emit(self, payload: Any) -> None:
        """Validate `payload` and publish it to this channel.

        Raises:
            pydantic.ValidationError: the payload does not match the schema; nothing is published.
            PublishError: the publisher failed.
        """
        data = self.encode(payload)
        with self._publishing():
            self._endpoint.owner.publisher.publish(
                self._id, data, persist=self._endpoint.spec.history
            )

    async def aemit(self, payload: Any) -> None:
        """The async twin of `emit`.

        Raises:
            pydantic.ValidationError: the payload does not match the schema; nothing is published.
            PublishError: the publisher failed.
        """
        data = self.encode(payload)
        with self._publishing():
            await self._endpoint.owner.publisher.apublish(
                self._id, data, persist=self._endpoint.spec.history
            )

    @contextmanager
    def _publishing(self) -> Iterator[None]:
        """Turn whatever the publisher raises into a `PublishError` naming this channel."""
        try:
            yield
        except PublishError:
            raise
        except Exception as exc:
            raise PublishError(f"publishing to {self._id!r} failed: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelRef) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"ChannelRef({self._id!r})"
