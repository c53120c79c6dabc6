"""sock8's log formats: `text` (human-readable, the default) and `json` (one object per line).

    sock8 gateway --log-format json

writes lines such as

    {"time": "2026-01-02T03:04:05.678Z", "level": "info", "logger": "sock8.gateway",
     "event": "unauthorized", "message": "refused a token: ...", "connection": "9f0c...",
     "reason": "expired"}

`event`, `connection`, `identity` and `reason` come from the `extra` of the logging call (the
gateway passes them where it logs about a connection: `connection_fields`); a record without an
`event` gets its logger's last name. No token or secret is ever passed to a log call, and the
formatter writes only the fields named here, so nothing else from a record's `extra` leaks out.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sock8._core import Grants

__all__ = ["LOG_FORMATS", "TEXT_FORMAT", "JsonFormatter", "configure", "connection_fields"]

LOG_FORMATS: Final = ("text", "json")
"""The values of `sock8 gateway --log-format`."""

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The `text` format."""

_FIELDS: Final = ("connection", "identity", "reason")
"""The fields taken from a record's `extra`, in this order (after its `event`)."""


def connection_fields(
    event: str, connection: str, grants: Grants | None = None, reason: str | None = None
) -> dict[str, Any]:
    """The `extra` of a log call about one connection: its id, its identity once known, why."""
    fields: dict[str, Any] = {"event": event, "connection": connection}
    if grants is not None:
        fields["identity"] = grants.identity
    if reason is not None:
        fields["reason"] = reason
    return fields


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line: `time` (UTC, ISO 8601, milliseconds),
    `level`, `logger`, `event`, `message`, then `connection`, `identity` and `reason` when the
    record has them, and `exception` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        moment = time.gmtime(record.created)
        millis = int(record.msecs)
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{millis:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or record.name.rpartition(".")[2],
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # ensure_ascii: a line stays one line and plain ASCII whatever a message holds.
        return json.dumps(line, ensure_ascii=True, default=str)


def configure(level: int | str, log_format: str = "text") -> logging.Handler:
    """Send the root logger's records to stderr in `log_format` (`LOG_FORMATS`), at `level`;
    the handler added. Handlers added before are removed (uvicorn's loggers propagate to it).

    Raises:
        ValueError: an unknown format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
