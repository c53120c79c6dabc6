"""`Dispatcher`: where each frame from the gateway goes, and which waiting request it answers.

A reply answers the oldest request waiting for it: the gateway handles a connection's frames in
order and answers them in order (docs/protocol.md). An error frame answers the oldest request
on its channel; without a channel, `unauthorized` and `rate_limited` answer a `refresh` (the one
request without a channel), and any other error explains the close that follows it. The gateway
may send one `rate_limited` error for several refused requests: the others time out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sock8.client.errors import ClientError, Forbidden, RequestRefused
from sock8.client.grants import GrantState, parse_position
from sock8.client.inbox import Inbox
from sock8.client.values import ChannelReset, ClientMessage, PresenceEntry, PresenceUpdate

__all__ = ["Dispatcher", "Pending", "decode", "presence_state"]

logger = logging.getLogger("sock8.client")

_REFRESH_ERRORS = frozenset({"unauthorized", "rate_limited"})
"""Error codes without a channel that answer a `refresh`."""


def decode(raw: str | bytes) -> dict[str, Any] | None:
    """A frame from the gateway as a JSON object; `None` (logged) for anything else."""
    if isinstance(raw, bytes):
        logger.warning("skipped a binary frame from the gateway")
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        logger.warning("skipped a frame that is not JSON")
        return None
    if not isinstance(frame, dict):
        logger.warning("skipped a frame that is not a JSON object")
        return None
    return frame


def _presence_entry(value: object) -> PresenceEntry:
    entry = value if isinstance(value, dict) else {}
    data = entry.get("data")
    last_seen = entry.get("lastSeen")
    return PresenceEntry(
        is_connected=bool(entry.get("isConnected", False)),
        last_seen=last_seen if isinstance(last_seen, int) else 0,
        data=data if isinstance(data, dict) else {},
    )


def presence_state(value: object) -> dict[str, PresenceEntry]:
    """The entries of a `presenceState`'s `state` or a `presenceUpdate`'s `updates`."""
    if not isinstance(value, dict):
        return {}
    return {str(identity): _presence_entry(entry) for identity, entry in value.items()}


@dataclass(eq=False, slots=True)
class Pending:
    """A request waiting for its answer.

    Attributes:
        kind: the request's event (`subscribe`, `setPresence`, `refresh`, ...).
        channel: its channel; `None` for `refresh`.
        future: resolves to the answering frame, or fails with the gateway's refusal.
    """

    kind: str
    channel: str | None
    future: asyncio.Future[dict[str, Any]]


class Dispatcher:
    """Routes one connection's frames: messages to the inbox, replies and errors to the waiting
    requests, presence updates to the caller. Internal: the connection loop feeds it.

    Arguments:
        inbox: where delivered messages go.
        grants: the identity welcomed, whose own presence update answers a `setPresence`.
        on_presence: called with each `PresenceUpdate`; must not raise.
        on_reset: called with each `ChannelReset`; must not raise.
    """

    def __init__(
        self,
        inbox: Inbox,
        grants: GrantState,
        on_presence: Callable[[PresenceUpdate], None],
        on_reset: Callable[[ChannelReset], None],
    ) -> None:
        self._inbox = inbox
        self._grants = grants
        self._on_presence = on_presence
        self._on_reset = on_reset
        self._pending: deque[Pending] = deque()
        self.last_error: dict[str, Any] | None = None
        """The last connection-level error frame, kept to explain the close that follows."""

    def expect(self, kind: str, channel: str | None) -> Pending:
        """Register a request about to be sent; its future resolves with the answer."""
        pending = Pending(kind, channel, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        return pending

    def forget(self, pending: Pending) -> None:
        """Stop waiting for `pending` (answered, timed out or abandoned)."""
        if pending in self._pending:
            self._pending.remove(pending)

    def fail_all(self, error: ClientError) -> None:
        """Fail every waiting request with `error` (the connection is gone)."""
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(error)
                # Nobody may be waiting any more (a timed-out request): mark it seen.
                pending.future.exception()

    def last_error_text(self) -> str:
        """`code: message` of `last_error`, or `""`."""
        if self.last_error is None:
            return ""
        return f"{self.last_error.get('code')}: {self.last_error.get('message', '')}".rstrip()

    async def dispatch(self, frame: dict[str, Any]) -> None:
        """Handle one frame; waits while the inbox is full."""
        event = frame.get("event")
        channel = frame.get("channel")
        if event is None:
            if isinstance(channel, str) and "payload" in frame:
                offset, epoch = frame.get("offset"), frame.get("epoch")
                if type(offset) is not int or not isinstance(epoch, str):
                    # No history: at most once, nothing to compare.
                    await self._inbox.put(ClientMessage(channel, frame["payload"]))
                elif self._grants.delivered(channel, offset, epoch):
                    await self._inbox.put(ClientMessage(channel, frame["payload"], offset, epoch))
            else:
                logger.warning("skipped a frame without event, channel or payload")
        elif event == "subscribed":
            if isinstance(channel, str):
                if "recovered" in frame:
                    self._resumed(channel, frame)
                else:
                    # A gateway that does not resume (or a channel without history).
                    self._grants.recovering.discard(channel)
            self._answer("subscribe", channel, frame)
        elif event == "unsubscribed":
            self._answer("unsubscribe", channel, frame)
        elif event == "presenceState":
            self._answer("getPresence", channel, frame)
        elif event == "presenceUpdate":
            self._presence_update(frame)
        elif event == "refreshed":
            self._answer("refresh", None, frame)
        elif event == "error":
            self._refused(frame)
        else:
            # Servers may add events: a client skips the ones it does not know.
            logger.debug("skipped a frame with unknown event %r", event)

    def _answer(
        self, kind: str | None, channel: object, answer: dict[str, Any] | ClientError
    ) -> bool:
        """Resolve the oldest request of `kind` (any kind when `None`) on `channel`."""
        for pending in self._pending:
            if (
                (kind is None or pending.kind == kind)
                and pending.channel == channel
                and not pending.future.done()
            ):
                if isinstance(answer, ClientError):
                    pending.future.set_exception(answer)
                else:
                    pending.future.set_result(answer)
                self._pending.remove(pending)
                return True
        return False

    def _resumed(self, channel: str, frame: dict[str, Any]) -> None:
        """The answer to a resuming `subscribe`: the missed messages follow it (recovered),
        or they are lost and the app is told (`ChannelReset`)."""
        self._grants.recovering.discard(channel)
        position = parse_position(frame)
        if position is None:
            logger.warning("skipped a malformed position for %s", channel)
            return
        if frame.get("recovered") is True:
            return  # the messages after our position follow, and move it on
        self._grants.positions[channel] = position
        logger.info("messages of %s were lost while disconnected; reload its state", channel)
        self._on_reset(ChannelReset(channel, *position))

    def give_up_resuming(self, channel: str | None = None, reason: str = "no answer") -> None:
        """Stop resuming `channel` (every channel still resuming when `None`): its resuming
        subscribe was refused, or not answered within the request timeout (the gateway sends one
        `rate_limited` notice for several refused requests). Its live messages flow again, and
        since what was missed is not known, the app is told with a `ChannelReset` at the last
        position this client has."""
        recovering = self._grants.recovering
        for name in sorted(recovering) if channel is None else [channel]:
            if name not in recovering:
                continue
            recovering.discard(name)
            logger.warning("could not resume %s (%s); reload its state", name, reason)
            position = self._grants.positions.get(name)
            if position is not None:
                self._on_reset(ChannelReset(name, *position))

    def _presence_update(self, frame: dict[str, Any]) -> None:
        channel = frame.get("channel")
        if not isinstance(channel, str):
            return
        updates = presence_state(frame.get("updates"))
        removals = frame.get("removals")
        update = PresenceUpdate(
            channel,
            updates,
            tuple(str(item) for item in removals) if isinstance(removals, list) else (),
        )
        if self._grants.identity in updates:
            # setPresence has no reply of its own: the broadcast of the change is its answer.
            # The gateway merges changes still waiting in a connection's queue, so one update
            # may answer several requests: it answers every one waiting on the channel.
            while self._answer("setPresence", channel, frame):
                pass
        self._on_presence(update)

    def _refused(self, frame: dict[str, Any]) -> None:
        code = str(frame.get("code", "error"))
        message = str(frame.get("message", ""))
        channel = frame.get("channel")
        if isinstance(channel, str):
            # A resuming subscribe refused (the history is unavailable, a rate limit).
            self.give_up_resuming(channel, code)
            error: RequestRefused = (
                Forbidden(channel, message)
                if code == "forbidden"
                else RequestRefused(code, message, channel=channel)
            )
            if not self._answer(None, channel, error):
                logger.warning("the gateway refused a request on %s: %s", channel, error)
            return
        if code in _REFRESH_ERRORS and self._answer("refresh", None, RequestRefused(code, message)):
            return
        if code == "rate_limited":
            # Not about the connection: the gateway keeps it open, and no close follows.
            logger.warning("the gateway rate-limited a request: %s", message)
            return
        # Connection-level errors precede a close; kept to explain it.
        self.last_error = frame
        logger.warning("gateway error %s: %s", code, message)
