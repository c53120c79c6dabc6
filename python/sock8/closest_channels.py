"""The granted channel ids closest to a refused one, and how each differs: what
`sock8 token inspect --channel` suggests when a token does not grant the id asked about."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from sock8._core import parse_channel
from sock8.errors import ChannelError

__all__ = ["MAX_SUGGESTIONS", "Suggestion", "SuggestionKind", "closest_granted"]

MAX_SUGGESTIONS = 5
"""Closest granted ids shown for a channel that is not granted."""

SuggestionKind = Literal["escaping", "parameters", "similar"]


@dataclass(frozen=True)
class Suggestion:
    """A granted id close to a refused one, and how it differs."""

    channel: str
    """The granted wire id."""
    kind: SuggestionKind
    """`escaping`: the same text written differently (`a.b` and `a%2Eb##x`); `parameters`: the
    same template with other parameter values; `similar`: a close spelling."""
    detail: str
    """How it differs, in words."""


def _plain_text(channel: str) -> str:
    """The text an id stands for, escapes decoded and parameter names dropped: `a.b`,
    `a%2Eb##x` and `a.b##x` all stand for `a.b`. Lenient on purpose: it reads ids that the
    grammar refuses (`a%2eb`), since those are the mistakes to explain."""
    segments = (segment.partition("##")[0] for segment in channel.split("."))
    return ".".join(unquote(segment, errors="replace") for segment in segments)


def _parsed(channel: str) -> tuple[str, dict[str, str]] | None:
    try:
        return parse_channel(channel)
    except ChannelError:
        return None


def _differences(want: dict[str, str], have: dict[str, str]) -> str:
    return ", ".join(
        f"{name} {have[name]!r} instead of {want[name]!r}"
        for name in want
        if want[name] != have.get(name)
    )


def closest_granted(
    channel: str, granted: Sequence[str], *, limit: int = MAX_SUGGESTIONS
) -> list[Suggestion]:
    """The granted ids closest to `channel`, closest first, at most `limit`.

    First the ids that stand for the same text written another way (escapes, `##name`
    suffixes); then the ids of the same template with other parameter values, fewest changed
    values first; then ids spelt alike. `channel` itself is never suggested.
    """
    candidates = [g for g in dict.fromkeys(granted) if g != channel]
    found: dict[str, Suggestion] = {}
    plain = _plain_text(channel)
    for g in candidates:
        if _plain_text(g) == plain:
            found[g] = Suggestion(g, "escaping", f"the same text, {plain!r}, written another way")
    parsed = _parsed(channel)
    if parsed is not None:
        template, values = parsed
        same: list[tuple[int, float, Suggestion]] = []
        for g in candidates:
            other = _parsed(g)
            if g in found or other is None or other[0] != template:
                continue
            changed = sum(values[name] != other[1].get(name) for name in values)
            detail = f"same template {template!r}: {_differences(values, other[1])}"
            ratio = difflib.SequenceMatcher(None, channel, g).ratio()
            same.append((changed, -ratio, Suggestion(g, "parameters", detail)))
        for _, _, suggestion in sorted(same, key=lambda t: (t[0], t[1])):
            found.setdefault(suggestion.channel, suggestion)
    if len(found) < limit:
        rest = [g for g in candidates if g not in found]
        for g in difflib.get_close_matches(channel, rest, n=limit, cutoff=0.75):
            found[g] = Suggestion(g, "similar", "spelt alike")
    return list(found.values())[:limit]
