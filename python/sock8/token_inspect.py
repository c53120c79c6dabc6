"""`sock8 token inspect`: what a token says, whether it verifies, and why a channel is refused.

The token is decoded by the Rust core (`sock8._core.decode_unverified`, by the verifier's own
rules) and verified by the same `Verifier` the gateway builds, with the same options, so a
refusal is the error, class and message, that the gateway gives. No secret is ever shown: the
report names keys only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sock8._core import (
    DEFAULT_AUDIENCE,
    MAX_NUMERIC_DATE,
    Grants,
    Verifier,
    decode_unverified,
    parse_channel,
)
from sock8.app import SECRET_ENV
from sock8.closest_channels import Suggestion, closest_granted
from sock8.errors import ChannelError, ConfigError, TokenError, UnknownKey
from sock8.http_publisher import publish_audience
from sock8.key_file import load_key_ring
from sock8.keys import KeyRing

__all__ = [
    "EXIT_NOT_VERIFIED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "ChannelCheck",
    "Inspection",
    "Refusal",
    "Suggestion",
    "add_arguments",
    "inspect_token",
    "render_text",
    "run",
]

EXIT_OK = 0
"""The token verifies (and grants `--channel`, when asked)."""
EXIT_REFUSED = 1
"""The token is refused or cannot be decoded, or `--channel` is not granted."""
EXIT_USAGE = 2
"""A bad option: an unreadable key ring, a bad secret, `--now` or `--leeway`."""
EXIT_NOT_VERIFIED = 3
"""No key was given: the token decodes, and nothing was verified."""

SHOWN_CHANNELS = 20
"""Granted ids listed in the readable report (`--json` lists them all)."""


@dataclass(frozen=True)
class Refusal:
    """A sock8 error as the gateway reports it: its class name and message."""

    error: str
    """The exception class, such as `TokenExpired` (`sock8.errors`)."""
    message: str
    """`str(exception)`: what the gateway sends in its `unauthorized` error frame."""
    kid: str | None = None
    """For `UnknownKey`: the token's `kid`."""

    @classmethod
    def of(cls, exc: Exception) -> Refusal:
        """The refusal an exception stands for."""
        kid = exc.kid if isinstance(exc, UnknownKey) else None
        return cls(type(exc).__name__, str(exc), kid)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.error == "UnknownKey":
            out["kid"] = self.kid
        return out


@dataclass(frozen=True)
class ChannelCheck:
    """Whether a token grants one channel."""

    channel: str
    """The channel asked about."""
    listed: bool
    """Whether it is exactly one of the ids in the token's `channels` claim (the gateway grants
    exact ids only)."""
    granted: bool | None
    """Whether the gateway grants it: `listed` in a token that verifies; `False` when the token
    is refused (it grants nothing); `None` when nothing was verified."""
    id_error: Refusal | None = None
    """Why `channel` is not a wire id at all (a `ChannelError`), if it is not."""
    closest: tuple[Suggestion, ...] = ()
    """For a channel not granted: the closest granted ids, closest first."""


@dataclass(frozen=True)
class Inspection:
    """Everything `sock8 token inspect` reports about one token."""

    header: dict[str, Any] | None = None
    """The decoded header, or `None`."""
    claims: dict[str, Any] | None = None
    """The decoded claims, or `None`."""
    signature_bytes: int | None = None
    """The signature's decoded length (32 for HS256), or `None`."""
    decode_errors: dict[str, Refusal] = field(default_factory=dict)
    """Why a part could not be decoded: `token` (the whole token), `header`, `claims`,
    `signature`."""
    verified: bool | None = None
    """`True`/`False` when a key was given, `None` when nothing was verified."""
    refusal: Refusal | None = None
    """The verifier's error when `verified` is `False`."""
    kids: tuple[str | None, ...] = ()
    """The names of the keys it was verified with (`None`: the unnamed key)."""
    options: dict[str, Any] = field(default_factory=dict)
    """`audience`, `issuer`, `leeway` and `now` used."""
    channel: ChannelCheck | None = None
    """The answer for `--channel`, when asked."""
    notes: tuple[str, ...] = ()
    """Explanations of the refusal, in words."""

    @property
    def exit_status(self) -> int:
        """`EXIT_OK`, `EXIT_REFUSED` or `EXIT_NOT_VERIFIED` (see their docstrings)."""
        # A part that does not decode is refused by every verifier, whatever its keys.
        if self.verified is False or self.decode_errors:
            return EXIT_REFUSED
        if self.channel is not None and not self.channel.listed:
            return EXIT_REFUSED
        return EXIT_OK if self.verified else EXIT_NOT_VERIFIED

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole report (the `--json` output)."""
        channel = None
        if self.channel is not None:
            check = self.channel
            channel = {
                "channel": check.channel,
                "listed": check.listed,
                "granted": check.granted,
                "id_error": check.id_error.to_json() if check.id_error else None,
                "closest": [
                    {"channel": s.channel, "kind": s.kind, "detail": s.detail}
                    for s in check.closest
                ],
            }
        return {
            "verified": self.verified,
            "refusal": self.refusal.to_json() if self.refusal else None,
            "header": self.header,
            "claims": self.claims,
            "signature_bytes": self.signature_bytes,
            "decode_errors": {part: r.to_json() for part, r in self.decode_errors.items()},
            "kids": list(self.kids),
            "options": self.options,
            "channel": channel,
            "notes": list(self.notes),
            "exit_status": self.exit_status,
        }


# Inspection.


def _granted_ids(claims: Mapping[str, Any] | None) -> list[str] | None:
    """The unverified `channels` claim, when it is a list of strings."""
    channels = None if claims is None else claims.get("channels")
    if isinstance(channels, list) and all(isinstance(c, str) for c in channels):
        return channels
    return None


def _check_channel(
    channel: str, verified: bool | None, grants: Grants | None, claims: Any
) -> ChannelCheck:
    id_error = None
    try:
        parse_channel(channel)
    except ChannelError as exc:
        id_error = Refusal.of(exc)
    granted: bool | None
    if grants is not None:
        listed_ids: Sequence[str] = grants.channels
        listed = granted = grants.allows(channel)
    else:
        listed_ids = _granted_ids(claims) or []
        listed = channel in listed_ids
        granted = None if verified is None else False
    closest = () if listed else tuple(closest_granted(channel, listed_ids))
    return ChannelCheck(channel, listed, granted, id_error, closest)


def _notes(
    refusal: Refusal, claims: dict[str, Any] | None, options: Mapping[str, Any]
) -> list[str]:
    """Plain words on why, from the (unverified) claims and the options."""
    notes: list[str] = []
    claims = claims or {}
    audience, issuer, leeway, now = (options[k] for k in ("audience", "issuer", "leeway", "now"))
    # The claim a message is about starts it (a channel id quoted further on may hold "aud").
    claim_error = refusal.message.removeprefix("invalid claims: ")
    if refusal.error == "InvalidClaims" and claim_error.startswith(("aud ", "token has aud")):
        notes.append(f"the token's aud is {claims.get('aud')!r}; --audience is {audience!r}")
        if claims.get("aud") == publish_audience(audience) or (
            isinstance(claims.get("aud"), list) and publish_audience(audience) in claims["aud"]
        ):
            notes.append("this is a publish token (POST /publish): check it with --publish")
    elif refusal.error == "InvalidClaims" and claim_error.startswith("iss "):
        notes.append(f"the token's iss is {claims.get('iss')!r}; --issuer is {issuer!r}")
    elif refusal.error == "TokenExpired" and isinstance(claims.get("exp"), int | float):
        ago = _duration(now - claims["exp"])
        notes.append(f"exp was {ago} before now ({_when(now)}); leeway is {leeway:g} s")
    elif refusal.error == "TokenNotYetValid":
        name = "nbf" if "nbf" in refusal.message else "iat"
        if isinstance(claims.get(name), int | float):
            ahead = _duration(claims[name] - now)
            notes.append(f"{name} is {ahead} after now ({_when(now)}); leeway is {leeway:g} s")
    elif refusal.error == "BadSignature" and refusal.message.endswith("does not match"):
        notes.append(
            "the token was signed with another secret, or altered after signing; the key its "
            "kid selects is not the one that signed it"
        )
    return notes


def inspect_token(
    token: str | bytes,
    *,
    keys: KeyRing | str | bytes | None = None,
    audience: str = DEFAULT_AUDIENCE,
    issuer: str | None = None,
    leeway: float = 0,
    now: float | None = None,
    channel: str | None = None,
) -> Inspection:
    """Decode `token`, verify it with `keys` as the gateway would, and check `channel`.

    Arguments:
        keys: the secret (`SOCK8_SECRET`) or a `KeyRing`; `None` decodes only.
        audience, issuer, leeway: the gateway's options of the same names.
        now: epoch seconds; defaults to the system clock.
        channel: a channel id to check against the grants.

    Raises:
        ConfigError: a bad secret, audience, issuer or leeway.
        ValueError: `now` is not finite or outside the NumericDate range.
    """
    if now is None:
        now = datetime.now(UTC).timestamp()
    options = {"audience": audience, "issuer": issuer, "leeway": leeway, "now": now}
    verifier: Verifier | None = None
    if isinstance(keys, KeyRing):
        verifier = keys.verifier(audience=audience, issuer=issuer, leeway=leeway)
    elif keys is not None:
        verifier = Verifier(keys, audience=audience, issuer=issuer, leeway=leeway)
    if not (math.isfinite(now) and 0 <= now <= MAX_NUMERIC_DATE):
        raise ValueError(f"now must be from 0 to {MAX_NUMERIC_DATE} seconds")
    decode_errors: dict[str, Refusal] = {}
    header = claims = signature_bytes = None
    try:
        decoded = decode_unverified(token)
    except TokenError as exc:
        decode_errors["token"] = Refusal.of(exc)
    else:
        header, claims, signature_bytes = decoded.header, decoded.claims, decoded.signature_bytes
        for part, error in [
            ("header", decoded.header_error),
            ("claims", decoded.claims_error),
            ("signature", decoded.signature_error),
        ]:
            if error is not None:
                decode_errors[part] = Refusal.of(error)
    verified: bool | None = None
    refusal = None
    grants = None
    notes: list[str] = []
    if verifier is not None:
        try:
            grants = verifier.verify(token, now=now)
            verified = True
        except TokenError as exc:
            verified, refusal = False, Refusal.of(exc)
            notes = _notes(refusal, claims, options)
    check = None if channel is None else _check_channel(channel, verified, grants, claims)
    return Inspection(
        header=header,
        claims=claims,
        signature_bytes=signature_bytes,
        decode_errors=decode_errors,
        verified=verified,
        refusal=refusal,
        kids=() if verifier is None else verifier.kids,
        options=options,
        channel=check,
        notes=tuple(notes),
    )


# The readable report.


def _duration(seconds: float) -> str:
    """`seconds` (non-negative) in words: `45s`, `3m 5s`, `2h 1m`, `4d 2h`."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def _when(epoch: float) -> str:
    """`epoch` as an ISO 8601 UTC time."""
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return "out of range"


def _bare(value: Any) -> str:
    """A string without quotes, control characters escaped (a claim may hold terminal escapes);
    any other value as JSON."""
    shown = json.dumps(value, ensure_ascii=False)
    return shown[1:-1] if isinstance(value, str) else shown


def _time_claim(value: Any, now: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return json.dumps(value, ensure_ascii=False)
    relative = f"in {_duration(value - now)}" if value > now else f"{_duration(now - value)} ago"
    return f"{json.dumps(value)}  ({_when(value)}, {relative})"


def _members(members: Mapping[str, Any], now: float) -> list[str]:
    width = max((len(name) for name in members), default=0)
    lines = []
    for name, value in members.items():
        if name in ("exp", "iat", "nbf"):
            shown = _time_claim(value, now)
        elif name == "channels" and isinstance(value, list):
            shown = f"{len(value)} id{'' if len(value) == 1 else 's'}"
        else:
            shown = json.dumps(value, ensure_ascii=False)
        lines.append(f"  {name:<{width}}  {shown}")
        if name == "channels" and isinstance(value, list):
            lines += [f"    {_bare(c)}" for c in value[:SHOWN_CHANNELS]]
            if len(value) > SHOWN_CHANNELS:
                lines.append(f"    ... and {len(value) - SHOWN_CHANNELS} more (--json lists all)")
    return lines


def _verdict(report: Inspection) -> list[str]:
    options = report.options
    context = (
        f"audience {options['audience']!r}, issuer {options['issuer']!r}, "
        f"leeway {options['leeway']:g} s, now {_when(options['now'])}"
    )
    if report.verified is None:
        return [
            f"NOT VERIFIED: no key given (set {SECRET_ENV} or pass --key-ring FILE). The header "
            "and claims below are only decoded: anyone can write a token that says this."
        ]
    kids = ", ".join("unnamed" if kid is None else repr(kid) for kid in report.kids)
    if report.verified:
        return [f"VERIFIED with the keys [{kids}] ({context})"]
    assert report.refusal is not None
    lines = [
        f"REFUSED ({context}), as the gateway would refuse it:",
        f"  {report.refusal.error}: {report.refusal.message}",
    ]
    if report.refusal.error == "UnknownKey":
        lines.append(f"  note: the keys given are [{kids}]")
    lines += [f"  note: {note}" for note in report.notes]
    return lines


def _channel_lines(check: ChannelCheck) -> list[str]:
    name = repr(check.channel)
    if check.granted:
        lines = [f"channel {name}: granted"]
    elif check.granted is None:
        listed = "listed" if check.listed else "NOT LISTED"
        lines = [f"channel {name}: {listed} in the unverified claims (nothing verified)"]
    elif check.listed:
        lines = [f"channel {name}: NOT GRANTED: listed, but the token is refused"]
    else:
        lines = [f"channel {name}: NOT GRANTED"]
    if check.id_error is not None:
        lines.append(f"  it is not a channel id: {check.id_error.message}")
    if check.closest:
        width = max(len(s.channel) for s in check.closest)
        lines.append("  closest granted ids:")
        lines += [f"    {s.channel:<{width}}  {s.detail}" for s in check.closest]
    elif not check.listed:
        lines.append("  no granted id is close to it")
    return lines


def render_text(report: Inspection) -> str:
    """The readable report `sock8 token inspect` prints."""
    now = report.options["now"]
    lines = _verdict(report)
    if "token" in report.decode_errors:
        error = report.decode_errors["token"]
        lines += ["", f"cannot decode the token: {error.error}: {error.message}"]
    else:
        for title, part, key in [
            ("header", report.header, "header"),
            ("claims", report.claims, "claims"),
        ]:
            lines.append("")
            if part is None:
                error = report.decode_errors[key]
                lines.append(f"{title}: cannot decode: {error.error}: {error.message}")
            else:
                lines.append(f"{title}:")
                lines += _members(part, now)
        lines.append("")
        if report.signature_bytes is not None:
            suffix = "" if report.signature_bytes == 32 else " (an HS256 signature is 32)"
            lines.append(f"signature: {report.signature_bytes} bytes{suffix}")
        else:
            lines.append(f"signature: {report.decode_errors['signature'].message}")
    if report.channel is not None:
        lines += ["", *_channel_lines(report.channel)]
    return "\n".join(lines) + "\n"


# The command line.


def _now(text: str) -> float:
    """`--now`: epoch seconds, or an ISO 8601 time (UTC when it has no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not epoch seconds nor an ISO 8601 time: {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _leeway(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, 0 or more: {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sock8 token inspect`, added to `parser`."""
    parser.add_argument(
        "token",
        metavar="TOKEN",
        help="the token, or - to read it from standard input (keeps it out of shell history)",
    )
    parser.add_argument(
        "--channel", metavar="ID", help="check whether the token grants this channel id"
    )
    parser.add_argument(
        "--now",
        type=_now,
        default=None,
        metavar="T",
        help="the time to check at: epoch seconds or ISO 8601 (UTC without an offset); "
        "default: the system clock",
    )
    parser.add_argument(
        "--key-ring",
        metavar="FILE",
        help=f"verify with the keys of this JSON file instead of ${SECRET_ENV} "
        '({"current": KID, "keys": [{"kid": KID or null, "secret": TEXT}, ...]})',
    )
    parser.add_argument(
        "--audience",
        default=DEFAULT_AUDIENCE,
        help="the gateway's --audience (default: %(default)s)",
    )
    parser.add_argument(
        "--issuer", default=None, help="the gateway's --issuer (default: none, not checked)"
    )
    parser.add_argument(
        "--leeway",
        type=_leeway,
        default=0.0,
        help="the gateway's --leeway, in seconds (default: %(default)g)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="check a publish token (POST /publish): audience <audience>:publish",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _keys(args: argparse.Namespace) -> KeyRing | str | None:
    if args.key_ring:
        return load_key_ring(args.key_ring)
    return os.environ.get(SECRET_ENV) or None


def run(args: argparse.Namespace) -> int:
    """Run `sock8 token inspect` with parsed `args`; returns the exit status (`EXIT_*`)."""
    token: str = args.token
    if token == "-":
        token = sys.stdin.read().strip()
    audience = publish_audience(args.audience) if args.publish else args.audience
    try:
        report = inspect_token(
            token,
            keys=_keys(args),
            audience=audience,
            issuer=args.issuer,
            leeway=args.leeway,
            now=args.now,
            channel=args.channel,
        )
    except (ConfigError, ValueError) as exc:
        # A core `KeyError` message names a secret's length or shape, never its bytes.
        print(f"sock8 token inspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render_text(report), end="")
    return report.exit_status
