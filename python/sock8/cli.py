"""The `sock8` command: `sock8 gateway` serves the gateway (picows, uvicorn); `sock8 token inspect`
explains a token; `sock8 js DIR` copies the browser client (sock8.js, sock8.d.ts) for bundlers.

    SOCK8_SECRET=... sock8 gateway --host 0.0.0.0 --port 8787 --channels myapp.realtime:channels

The secret is read from the environment only: a command-line argument would show in `ps` and in
shell history. `--channels` (or `SOCK8_CHANNELS`) imports the app's channel tree, so that the
gateway applies its presence schemas and history rules.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from sock8 import _gateway_defaults as defaults
from sock8 import logs, revoke_command, token_inspect
from sock8._core import DEFAULT_AUDIENCE, __version__
from sock8.app import SECRET_ENV
from sock8.errors import ConfigError

__all__ = ["CHANNELS_ENV", "METRICS_TOKEN_ENV", "REDIS_ENV", "build_parser", "main"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
CHANNELS_ENV = "SOCK8_CHANNELS"
"""Where `sock8 gateway` reads `--channels` from when the option is not given."""
REDIS_ENV = "SOCK8_REDIS_URL"
"""Where `sock8 gateway` reads `--redis` from when the option is not given."""
METRICS_TOKEN_ENV = "SOCK8_METRICS_TOKEN"
"""Where `sock8 gateway` reads `--metrics-token` from when the option is not given."""
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `sock8` (exposed for the documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="sock8",
        description="sock8: realtime channels with strict, signed, per-channel access control.",
    )
    parser.add_argument("--version", action="version", version=f"sock8 {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    gateway = commands.add_parser(
        "gateway",
        help="serve the WebSocket gateway",
        description=(
            "Serve the sock8 gateway (WebSocket /connect, POST /publish, GET /history/{id}, "
            f"GET /health): WebSocket /connect with picows, HTTP with uvicorn, one port. The "
            f"secret is read from {SECRET_ENV}; it must be the app's secret (32+ bytes). No "
            "permessage-deflate: it costs ~50 KiB per connection. Serve TLS (wss://) from a "
            "proxy in front."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    gateway.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    gateway.add_argument(
        "--port", type=_port, default=8787, help="port to listen on (0: any free port)"
    )
    gateway.add_argument(
        "--audience",
        default=DEFAULT_AUDIENCE,
        help="audience of client tokens; publish tokens use <audience>:publish",
    )
    gateway.add_argument(
        "--issuer", default=None, help="issuer (iss) tokens must carry; None: not checked"
    )
    gateway.add_argument(
        "--leeway", type=float, default=0.0, help="seconds of clock skew tolerated on tokens"
    )
    gateway.add_argument(
        "--channels",
        default=None,
        metavar="MODULE:ATTR",
        help="import the app's ChannelTree (or a list or tuple of them), e.g. "
        "myapp.realtime:channels, to check presence data against the presence schemas, refuse "
        "presence where a channel has none, and take history from the tree; from the current "
        f"directory too. Defaults to ${CHANNELS_ENV} (None: no tree, any presence object)",
    )
    gateway.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        metavar="ORIGIN",
        help="allow browser WebSocket upgrades only from this origin, e.g. "
        "https://app.example.com (repeatable; None: any origin)",
    )
    gateway.add_argument(
        "--auth-timeout",
        type=_positive_float,
        default=defaults.AUTH_TIMEOUT,
        help="seconds a connection has to send its auth frame",
    )
    gateway.add_argument(
        "--max-frame-size",
        type=_positive_int,
        default=defaults.MAX_FRAME_BYTES,
        metavar="BYTES",
        help="largest client frame, in UTF-8 bytes (it must hold an auth frame with the "
        "largest token)",
    )
    gateway.add_argument(
        "--max-publish-size",
        type=_positive_int,
        default=defaults.MAX_PUBLISH_BYTES,
        metavar="BYTES",
        help="largest POST /publish body",
    )
    gateway.add_argument(
        "--max-presence-size",
        type=_positive_int,
        default=defaults.MAX_PRESENCE_BYTES,
        metavar="BYTES",
        help="largest presence data of one identity on one channel, as JSON",
    )
    gateway.add_argument(
        "--send-buffer",
        type=_positive_int,
        default=defaults.SEND_BUFFER,
        metavar="BYTES",
        help="bytes a connection may leave unsent (queued frames and the server's write buffer) "
        "before it is closed as a slow consumer (4008)",
    )
    gateway.add_argument(
        "--request-rate",
        type=_positive_float,
        default=defaults.REQUEST_RATE,
        metavar="PER_SECOND",
        help="client requests (frames after auth) one connection may sustain; beyond, they are "
        "refused with a rate_limited error",
    )
    gateway.add_argument(
        "--request-burst",
        type=_positive_int,
        default=defaults.REQUEST_BURST,
        metavar="REQUESTS",
        help="client requests one connection may send at once (a reconnect re-subscribes)",
    )
    gateway.add_argument(
        "--presence-rate",
        type=_positive_float,
        default=defaults.PRESENCE_RATE,
        metavar="PER_SECOND",
        help="setPresence requests one connection may sustain",
    )
    gateway.add_argument(
        "--presence-burst",
        type=_positive_int,
        default=defaults.PRESENCE_BURST,
        metavar="REQUESTS",
        help="setPresence requests one connection may send at once",
    )
    gateway.add_argument(
        "--history-size",
        type=_positive_int,
        default=defaults.HISTORY_SIZE,
        metavar="MESSAGES",
        help="messages kept per channel for GET /history",
    )
    gateway.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="share fan-out, presence and history with every gateway on this Redis, e.g. "
        f"redis://127.0.0.1:6379/0 (needs sock8[redis]). Defaults to ${REDIS_ENV} (None: "
        "in-memory, one process)",
    )
    gateway.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="processes serving the one port (each a gateway); more than 1 needs --redis, "
        "which they share",
    )
    gateway.add_argument(
        "--ping-interval",
        type=_positive_float,
        default=20.0,
        metavar="SECONDS",
        help="WebSocket keepalive ping interval",
    )
    gateway.add_argument(
        "--ping-timeout",
        type=_positive_float,
        default=20.0,
        metavar="SECONDS",
        help="close a connection whose pong is this late",
    )
    gateway.add_argument(
        "--root-path", default="", help="path prefix when served behind a proxy under a path"
    )
    gateway.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips",
    )
    gateway.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        metavar="IPS",
        help="comma-separated proxy addresses trusted with --proxy-headers",
    )
    gateway.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="logging level of sock8 and uvicorn"
    )
    gateway.add_argument(
        "--log-format",
        choices=logs.LOG_FORMATS,
        default="text",
        help="text: human-readable lines; json: one JSON object per line (time, level, event, "
        "connection, identity, reason), never a token or a secret",
    )
    gateway.add_argument(
        "--metrics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve GET /metrics (Prometheus text format)",
    )
    gateway.add_argument(
        "--metrics-token",
        default=None,
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' on /metrics; defaults to ${METRICS_TOKEN_ENV} "
        "(better than the option, which shows in ps)",
    )
    gateway.add_argument(
        "--max-token-ttl",
        type=_positive_int,
        default=defaults.MAX_TOKEN_TTL,
        metavar="SECONDS",
        help="refuse client tokens living longer (exp - iat); revocations are kept this long: "
        "set it to the app's token TTL",
    )
    revoke = commands.add_parser(
        "revoke",
        help="revoke an identity's tokens, or one token, on a running gateway",
        description=(
            "Revoke on every gateway node (POST /revoke with a publish token signed with "
            f"{SECRET_ENV}): the live connections close with 4001 'revoked', and the tokens are "
            "refused until they would have expired. Exit status: 0 revoked, 1 failed, 2 bad "
            "option."
        ),
    )
    revoke_command.add_arguments(revoke)
    token = commands.add_parser("token", help="examine tokens", description="Examine tokens.")
    token_commands = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    inspect = token_commands.add_parser(
        "inspect",
        help="decode a token, verify it as the gateway would, check a channel",
        description=(
            "Print a token's header and claims; whether it verifies with the secret in "
            f"{SECRET_ENV} (or --key-ring FILE) and, if not, the gateway's error; with "
            "--channel, whether that id is granted and the closest granted ids. Without a key "
            "it only decodes, and says so. Secrets are never printed. Exit status: 0 verified "
            "(and granted), 1 refused or not granted, 2 bad option, 3 nothing verified."
        ),
    )
    token_inspect.add_arguments(inspect)
    js = commands.add_parser(
        "js",
        help="copy the browser client (sock8.js, sock8.d.ts) into a directory",
        description=(
            "Copy sock8.js (the browser client, one ES module) and sock8.d.ts (its types) into "
            "DIR, for a bundler or a static site; the gateway also serves both at /sock8.js "
            "and /sock8.d.ts."
        ),
    )
    js.add_argument("directory", metavar="DIR", help="where to write the files (created)")
    return parser


def _gateway_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "audience": args.audience,
        "issuer": args.issuer,
        "leeway": args.leeway,
        "allowed_origins": args.allowed_origins,
        "auth_timeout": args.auth_timeout,
        "max_publish_bytes": args.max_publish_size,
        "max_presence_bytes": args.max_presence_size,
        "send_buffer": args.send_buffer,
        "history_size": args.history_size,
        "max_frame_bytes": args.max_frame_size,
        "request_rate": args.request_rate,
        "request_burst": args.request_burst,
        "presence_rate": args.presence_rate,
        "presence_burst": args.presence_burst,
        "max_token_ttl": args.max_token_ttl,
        "metrics": args.metrics,
        "metrics_token": args.metrics_token or os.environ.get(METRICS_TOKEN_ENV) or None,
    }
    spec = args.channels or os.environ.get(CHANNELS_ENV)
    if spec:
        options["channels"] = _load_channels(spec)
    redis_url = _redis_url(args)
    if redis_url:
        options.update(_redis_stores(redis_url, args.history_size))
    return options


def _redis_url(args: argparse.Namespace) -> str | None:
    return args.redis or os.environ.get(REDIS_ENV) or None


def _redis_stores(url: str, history_size: int) -> dict[str, Any]:
    """The gateway's broker and presence store on the Redis at `url`.

    Raises:
        ConfigError: redis-py is not installed.
    """
    try:
        from sock8.redis import RedisBroker, RedisPresence
        from sock8.redis.revocations import RedisRevocations
    except ImportError as exc:
        raise ConfigError(f"--redis: {exc}") from None
    return {
        "broker": RedisBroker(url, history_size=history_size),
        "presence": RedisPresence(url),
        "revocations": RedisRevocations(url),
    }


def _one_line(exc: BaseException) -> str:
    # A SyntaxError or a chained message may span lines; the error must stay one log line.
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _load_channels(spec: str) -> list[Any]:
    """The channel trees named by `MODULE:ATTR` (`ATTR` may be dotted).

    Raises:
        ConfigError: a malformed spec, an import that fails, or an object that is not a
            `ChannelTree` nor a non-empty list or tuple of them; the message is one line.
    """
    from sock8.tree import ChannelTree

    module_name, colon, attribute = spec.partition(":")
    if not (colon and module_name and attribute):
        raise ConfigError(f"--channels {spec!r}: expected MODULE:ATTR, e.g. myapp:channels")
    # As uvicorn does for its app: the app's modules are found from the current directory, also
    # when `sock8` runs as an installed script (whose own directory is first on the path).
    if not {"", ".", os.getcwd()} & set(sys.path):
        sys.path.insert(0, os.getcwd())
    try:
        found: object = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"--channels {spec!r}: cannot import {module_name!r}: {_one_line(exc)}"
        ) from None
    for name in attribute.split("."):
        try:
            found = getattr(found, name)
        except AttributeError:
            raise ConfigError(
                f"--channels {spec!r}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    trees = list(found) if isinstance(found, list | tuple) else [found]
    wrong = [type(tree).__name__ for tree in trees if not isinstance(tree, ChannelTree)]
    if wrong or not trees:
        what = type(found).__name__
        if isinstance(found, list | tuple):
            what += f" holding a {wrong[0]}" if wrong else " that is empty"
        raise ConfigError(
            f"--channels {spec!r}: a {what}, not a ChannelTree (or a list or tuple of them)"
        )
    return trees


def _serve_gateway(args: argparse.Namespace) -> int:
    try:
        from sock8.gateway import Gateway
        from sock8.gateway.server import run
    except ImportError as exc:
        print(f"sock8 gateway: {exc}; pip install 'sock8[gateway]'", file=sys.stderr)
        return 1
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        print(f"sock8 gateway: set {SECRET_ENV} to the app's secret (32+ bytes)", file=sys.stderr)
        return 2
    workers = args.workers
    if workers > 1 and not _redis_url(args):
        print(
            f"sock8 gateway: --workers {workers} needs --redis: without it each process keeps "
            "its own fan-out, presence and history, and a message published to one would "
            "silently miss the clients of the others",
            file=sys.stderr,
        )
        return 2
    logs.configure(getattr(logging, args.log_level.upper()), args.log_format)

    def build() -> Gateway:
        gateway = Gateway(secret=secret, **_gateway_options(args))
        # What exists now (modules, the gateway) lives as long as the process: out of the
        # cyclic collector's sight, so that its full collections do not walk it in a fan-out.
        gc.freeze()
        return gateway

    try:
        # `run` builds the first gateway before it binds or forks: bad settings end here.
        run(
            build,
            host=args.host,
            port=args.port,
            workers=workers,
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
            root_path=args.root_path,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            log_level=args.log_level,
            on_worker_exit=_forget_worker_metrics,
        )
    except ConfigError as exc:
        print(f"sock8 gateway: {exc}", file=sys.stderr)
        return 2
    return 0


def _forget_worker_metrics(pid: int) -> None:
    """A worker ended: its live gauges (open connections) must no longer add up in `/metrics`."""
    if MULTIPROC_ENV in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _copy_js(directory: str) -> int:
    from sock8.static import copy_to

    try:
        written = copy_to(directory)
    except OSError as exc:
        print(f"sock8 js: cannot write to {directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


@contextlib.contextmanager
def _metrics_files(args: argparse.Namespace) -> Iterator[None]:
    """With `--workers` over 1, a new directory for the metrics of every worker (set as
    `PROMETHEUS_MULTIPROC_DIR` before the gateway imports prometheus-client, so that any
    worker's `/metrics` adds up all of theirs), removed at the end; one given in the
    environment is used as it is."""
    if args.workers <= 1 or not args.metrics or MULTIPROC_ENV in os.environ:
        yield
        return
    directory = tempfile.mkdtemp(prefix="sock8-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `sock8` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "gateway":
        with _metrics_files(args):
            return _serve_gateway(args)
    if args.command == "token":
        return token_inspect.run(args)
    if args.command == "revoke":
        return revoke_command.run(args)
    if args.command == "js":
        return _copy_js(args.directory)
    raise AssertionError(args.command)  # argparse refuses unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
