"""`sock8 revoke`: revoke an identity's tokens, or one token, on a running gateway.

    SOCK8_SECRET=... sock8 revoke --identity u1 --url wss://rt.example/connect
    SOCK8_SECRET=... sock8 revoke --jti 3q2-7w... --url wss://rt.example/connect

It posts to the gateway's `POST /revoke` with a publish token signed with `SOCK8_SECRET`
(`HttpPublisher.revoke`), as the app's `s8.revoke(...)` does; with Redis, the gateway hands it to
every node. Exit status: 0 revoked, 1 the gateway could not be reached or refused it, 2 a bad
option or no secret.
"""

from __future__ import annotations

import argparse
import os
import sys

from sock8._core import DEFAULT_AUDIENCE
from sock8.app import DEFAULT_GATEWAY_URL, SECRET_ENV
from sock8.errors import ConfigError, PublishError
from sock8.http_publisher import HttpPublisher
from sock8.revocation import Revocation

__all__ = ["add_arguments", "run"]


def _time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not epoch seconds: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sock8 revoke`."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--identity", metavar="ID", help="revoke the tokens of this identity (sub)")
    what.add_argument("--jti", metavar="JTI", help="revoke the one token with this jti")
    parser.add_argument(
        "--before",
        type=_time,
        metavar="EPOCH",
        help="with --identity: revoke the tokens issued before this time, epoch seconds "
        "(default: now, on the gateway's clock)",
    )
    parser.add_argument(
        "--url",
        default=DEFAULT_GATEWAY_URL,
        help="the gateway's URL, WebSocket (as given to clients) or HTTP base",
    )
    parser.add_argument(
        "--audience", default=DEFAULT_AUDIENCE, help="audience of the app's client tokens"
    )
    parser.add_argument("--issuer", default=None, help="issuer the gateway checks, if any")
    parser.add_argument("--kid", default=None, help="key name, when the gateway has named keys")


def run(args: argparse.Namespace) -> int:
    """Run `sock8 revoke`; the exit status."""
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        print(f"sock8 revoke: set {SECRET_ENV} to the app's secret", file=sys.stderr)
        return 2
    if args.before is not None and args.identity is None:
        print("sock8 revoke: --before goes with --identity", file=sys.stderr)
        return 2
    try:
        revocation = Revocation(identity=args.identity, before=args.before, jti=args.jti)
        publisher = HttpPublisher(
            args.url, secret, audience=args.audience, issuer=args.issuer, kid=args.kid
        )
    except (ValueError, ConfigError) as exc:
        print(f"sock8 revoke: {exc}", file=sys.stderr)
        return 2
    try:
        publisher.revoke(revocation)
    except PublishError as exc:
        print(f"sock8 revoke: {exc}", file=sys.stderr)
        return 1
    finally:
        publisher.close()
    print(f"revoked {revocation}")
    return 0
