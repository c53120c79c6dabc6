"""The channel tree built by `Sock8.channels`: navigation from Python names to channels.

Static segments of a template become nodes (`channels.chat.messages`); parameter segments are
left out of the path and given to `for_()` at the node the static segments reach
(`channels.chat.messages.for_(roomId="r1")`). Several templates may end at one node when their
parameter-name sets differ; `for_()` picks the one whose set equals the names given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

from sock8._core import ChannelTemplate
from sock8.channels import ChannelRef, ChannelSpec, Endpoint, Owner, as_spec
from sock8.errors import ChannelError, reworded

__all__ = ["ChannelTree", "build_tree"]


def _signature(params: frozenset[str] | tuple[str, ...]) -> str:
    return "for_(" + ", ".join(f"{name}=..." for name in sorted(params)) + ")"


@final
class ChannelTree:
    """A node of a channel tree; the root is what `Sock8.channels` returns.

    Static segments are attributes (`channels.admin.logs`); a segment that is not a Python
    identifier, or that clashes with a name below (`id`, `emit`, …), is reached with
    `channels["my-app"]`. A node that is itself a static channel acts as its `ChannelRef`
    (`id`, `emit`, `aemit`); a parameterized one needs `for_(**params)`.
    """

    __slots__ = ("_children", "_endpoints", "_path", "_root")

    def __init__(self, path: tuple[str, ...], *, root: bool = False) -> None:
        self._path = path
        self._root = root
        self._children: dict[str, ChannelTree] = {}
        self._endpoints: dict[frozenset[str], Endpoint] = {}

    def for_(self, /, **params: str | int) -> ChannelRef:
        """The channel of this node whose parameter names are exactly those given.

        Raises:
            ChannelError: no template here takes exactly these names (the message lists what
                does), or a value is refused by the channel-id grammar.
        """
        endpoint = self._endpoints.get(frozenset(params))
        if endpoint is None:
            raise ChannelError(
                f"{self._where()}.{_signature(tuple(params))} matches no channel; "
                f"expected {self._expected()}"
            )
        try:
            return ChannelRef(endpoint, params)
        except ChannelError as exc:
            raise reworded(exc, f"{endpoint.template.template!r}: {exc}") from None

    @property
    def ref(self) -> ChannelRef:
        """This node's static channel.

        Raises:
            ChannelError: the node has no static channel (it needs `for_()`, or is only a prefix).
        """
        endpoint = self._endpoints.get(frozenset())
        if endpoint is None:
            raise ChannelError(f"{self._where()} is not a static channel; use {self._expected()}")
        return ChannelRef(endpoint, {})

    @property
    def id(self) -> str:
        """The wire id of this node's static channel (see `ref`)."""
        return self.ref.id

    @property
    def spec(self) -> ChannelSpec:
        """The definition of this node's static channel (see `ref`)."""
        return self.ref.spec

    def emit(self, payload: Any) -> None:
        """`self.ref.emit(payload)`: validate and publish to this node's static channel."""
        self.ref.emit(payload)

    async def aemit(self, payload: Any) -> None:
        """`await self.ref.aemit(payload)`."""
        await self.ref.aemit(payload)

    @property
    def definitions(self) -> Mapping[str, ChannelSpec]:
        """Every channel at or under this node: full template to definition."""
        found: dict[str, ChannelSpec] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            for endpoint in node._endpoints.values():
                found[endpoint.template.template] = endpoint.spec
            stack.extend(node._children.values())
        return found

    def __getattr__(self, name: str) -> ChannelTree:
        # Never answer for dunders or our own slots: copy, pickle and hasattr probe them.
        if name.startswith("__") or name in ChannelTree.__slots__:
            raise AttributeError(name)
        try:
            return self._children[name]
        except KeyError:
            raise AttributeError(self._missing(name)) from None

    def __getitem__(self, name: str) -> ChannelTree:
        try:
            return self._children[name]
        except KeyError:
            raise KeyError(self._missing(name)) from None

    def __dir__(self) -> list[str]:
        return sorted({*object.__dir__(self), *(n for n in self._children if n.isidentifier())})

    def __repr__(self) -> str:
        parts = [_signature(params) if params else "static" for params in self._endpoints]
        if self._children:
            parts.append("children: " + ", ".join(sorted(self._children)))
        return f"<ChannelTree {self._where()}" + (": " + "; ".join(parts) if parts else "") + ">"

    def _where(self) -> str:
        return "channels" + "".join(f".{segment}" for segment in self._path)

    def _expected(self) -> str:
        if not self._endpoints:
            return "one of its children" + self._listing() if self._children else "nothing"
        options = (_signature(params) if params else "no parameters" for params in self._endpoints)
        return " or ".join(sorted(options))

    def _missing(self, name: str) -> str:
        return f"{self._where()} has no child {name!r}{self._listing()}"

    def _listing(self) -> str:
        return f" (children: {', '.join(sorted(self._children))})" if self._children else ""

    def _insert(self, endpoint: Endpoint, origin: str) -> None:
        node = self
        for segment in endpoint.template.template.split("."):
            # The Rust core has validated the template; here we only route on it.
            if segment.startswith("{"):
                continue
            child = node._children.get(segment)
            if child is None:
                child = node._children[segment] = ChannelTree((*node._path, segment))
            node = child
        key = frozenset(endpoint.template.params)
        clash = node._endpoints.get(key)
        if clash is not None:
            raise ChannelError(
                f"channel {origin}: ambiguous with {clash.template.template!r}; both are "
                f"{node._where()}.{_signature(key)}"
            )
        node._endpoints[key] = endpoint


def build_tree(owner: Owner, definitions: Mapping[str, object]) -> ChannelTree:
    """Build a root `ChannelTree` for `owner` from `{template: definition or sub-tree}`.

    Raises:
        ChannelError: a bad key, definition, schema or config; a duplicate or ambiguous template;
            a sub-tree that is not a whole tree. Every message names the key.
    """
    if not isinstance(definitions, Mapping):
        raise ChannelError(f"channels() takes a mapping of templates, not {definitions!r}")
    # template -> (key that defined it, spec); sub-trees are flattened under their mount key.
    flat: dict[str, tuple[str, ChannelSpec]] = {}

    def add(template: str, origin: str, spec: ChannelSpec) -> None:
        first = flat.get(template)
        if first is not None:
            raise ChannelError(f"channel {origin} is defined twice (also as {first[0]})")
        flat[template] = (origin, spec)

    for key, value in definitions.items():
        if not isinstance(key, str):
            raise ChannelError(f"channel keys are templates (str), not {key!r}")
        if isinstance(value, ChannelTree):
            if not value._root:
                raise ChannelError(
                    f"channel {key!r}: only a whole tree (from Sock8.channels) can be mounted, "
                    f"not {value._where()}"
                )
            _template(key, repr(key))  # the mount key alone must be valid
            for sub, spec in value.definitions.items():
                add(f"{key}.{sub}", f"{key + '.' + sub!r} (from {sub!r} mounted at {key!r})", spec)
        else:
            add(key, repr(key), as_spec(repr(key), value))

    root = ChannelTree((), root=True)
    for template, (origin, spec) in flat.items():
        root._insert(Endpoint(owner, origin, _template(template, origin), spec), origin)
    return root


def _template(template: str, origin: str) -> ChannelTemplate:
    try:
        return ChannelTemplate(template)
    except ChannelError as exc:
        raise reworded(exc, f"channel {origin}: {exc}") from None
