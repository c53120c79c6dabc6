"""`ChannelRules`: what the gateway knows about each channel from the app's channel trees."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from sock8._core import parse_channel
from sock8.errors import ChannelError
from sock8.gateway.frames import dumps
from sock8.gateway.presence import Validate, unsafe_key
from sock8.tree import ChannelTree

__all__ = ["ChannelRules"]


@dataclass(frozen=True, slots=True)
class _Rule:
    presence: TypeAdapter[Any] | None
    history: bool


class ChannelRules:
    """What the gateway knows about channels from the app's channel trees (if it was given any).

    With no tree, every granted channel may have presence (data unchecked but for its size), and
    `persist` in a publish body decides history.
    """

    def __init__(self, trees: Iterable[ChannelTree], max_presence_bytes: int) -> None:
        self._rules: dict[str, _Rule] = {}
        for tree in trees:
            for template, spec in tree.definitions.items():
                adapter = None if spec.presence is None else TypeAdapter(spec.presence)
                self._rules[template] = _Rule(adapter, spec.history)
        self._max_presence_bytes = max_presence_bytes

    @property
    def known(self) -> bool:
        """Whether any tree was given."""
        return bool(self._rules)

    def _rule(self, channel: str) -> _Rule | None:
        if not self._rules:
            return None
        try:
            template, _ = parse_channel(channel)
        except ChannelError:
            return None
        return self._rules.get(template)

    def presence_allowed(self, channel: str) -> bool:
        """False only for a channel the trees define without presence, or do not define."""
        if not self._rules:
            return True
        rule = self._rule(channel)
        return rule is not None and rule.presence is not None

    def history(self, channel: str) -> bool | None:
        """Whether the trees say `channel` keeps history; `None` when they do not know it."""
        rule = self._rule(channel)
        return None if rule is None else rule.history

    def presence_validator(self, channel: str) -> Validate:
        """Checks merged presence data: no key a browser's merge could turn into a prototype
        change (`unsafe_key`), the schema when known, the size always."""
        rule = self._rule(channel)
        adapter = None if rule is None else rule.presence
        limit = self._max_presence_bytes

        def validate(data: dict[str, Any]) -> dict[str, Any]:
            # Before the schema, which could drop the key and hide the attempt.
            key = unsafe_key(data)
            if key is not None:
                raise ValueError(f"presence data may not use the key {key!r}")
            if adapter is not None:
                dumped = adapter.dump_python(adapter.validate_python(data), mode="json")
                if not isinstance(dumped, dict):
                    raise ValueError("the presence schema must describe an object")
                data = dumped
            if len(dumps(data)) > limit:
                raise ValueError(f"presence data over {limit} bytes")
            return data

        return validate
