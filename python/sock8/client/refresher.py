"""`Refresher`: replaces a connection's token before it expires, retrying failed refreshes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sock8._backoff import Backoff
from sock8.client.errors import (
    AuthError,
    ClientClosed,
    ClientError,
    ConnectionLost,
    RequestRefused,
    Unauthorized,
)

__all__ = ["Refresher"]

logger = logging.getLogger("sock8.client")


class Refresher:
    """The refresh timer of a live connection. Internal: the connection loop restarts it after
    each `welcome` and stops it when the connection ends.

    It sleeps until the current token is due, then refreshes. Failures that may pass (the auth
    route unreachable, no answer from the gateway, a `rate_limited` refusal) are retried after
    a backoff delay; the app refusing the client stops the client for good.

    Arguments:
        refresh: fetches a token and swaps it in on the connection.
        stop_client: stops the client for good with the given error.
        due: when the current token should be replaced, on the client's clock; `None` when
            there is no token.
        backoff: the delays between failed attempts.
        clock: the client's clock, epoch seconds.
        sleep: waits, injectable for tests.
    """

    def __init__(
        self,
        refresh: Callable[[], Awaitable[None]],
        stop_client: Callable[[ClientError], Awaitable[None]],
        due: Callable[[], float | None],
        *,
        backoff: Backoff,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self._refresh = refresh
        self._stop_client = stop_client
        self._due = due
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def restart(self) -> None:
        """Start the timer over for the current token."""
        current = asyncio.current_task()
        old = self._task
        if old is not None and old is not current:
            old.cancel()
        self._task = asyncio.create_task(self._run(), name="sock8.Client.refresh")

    def cancel(self) -> None:
        """Cancel the timer without waiting for it to end."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def stop(self) -> None:
        """Cancel the timer and wait until it ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        failures = 0
        while True:
            due = self._due()
            if due is None:
                return
            delay = self._backoff.delay(failures - 1) if failures else max(0.0, due - self._clock())
            await self._sleep(delay)
            try:
                await self._refresh()
            except Unauthorized as exc:
                logger.error("token refresh refused by the app: %s", exc)
                await self._stop_client(exc)
                return
            except AuthError as exc:
                if not exc.retryable:
                    logger.error("token refresh failed: %s", exc)
                    await self._stop_client(exc)
                    return
                failures += 1
                logger.warning("token refresh failed (%s); retrying", exc)
            except RequestRefused as exc:
                if exc.code != "rate_limited":
                    # The gateway refused the token and closes the connection; the connection
                    # loop takes it from there.
                    return
                # The connection stays open and the token still holds until it expires.
                failures += 1
                logger.warning("the gateway rate-limited a token refresh; retrying")
            except (ConnectionLost, ClientClosed):
                return
            except TimeoutError:
                failures += 1
                logger.warning("the gateway did not acknowledge a refresh; retrying")
            else:
                failures = 0
