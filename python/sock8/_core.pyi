"""Type stubs for `sock8._core`, the Rust core. Rules: docs/spec.md."""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn, final

from sock8.errors import MalformedToken

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_TTL",
    "MAX_CHANNELS",
    "MAX_JSON_DEPTH",
    "MAX_NUMERIC_DATE",
    "MAX_PAYLOAD_DEPTH",
    "MAX_SEGMENTS",
    "MAX_TOKEN_BYTES",
    "MAX_WIRE_ID_BYTES",
    "MIN_SECRET_BYTES",
    "ChannelTemplate",
    "Grants",
    "Keys",
    "Signer",
    "UnverifiedToken",
    "Verifier",
    "__version__",
    "check_json",
    "decode_unverified",
    "parse_channel",
    "render_channel",
]

__version__: str

MAX_WIRE_ID_BYTES: int
"""Longest wire id, in bytes (512)."""
MAX_SEGMENTS: int
"""Most segments in a template or wire id (16)."""
MAX_TOKEN_BYTES: int
"""Default and ceiling of `Verifier(max_token_bytes=)` (524,288)."""
MAX_JSON_DEPTH: int
"""Default and ceiling of `Verifier(max_depth=)` (8)."""
MAX_CHANNELS: int
"""Default and ceiling of `Verifier(max_channels=)` (10,000)."""
MIN_SECRET_BYTES: int
"""Shortest accepted secret (32 bytes)."""
MAX_PAYLOAD_DEPTH: int
"""Default depth limit of `check_json` (64); its `max_depth` goes up to twice this."""
DEFAULT_AUDIENCE: str
"""The audience signers write and verifiers require by default (`"sock8"`)."""
DEFAULT_TTL: int
"""A signer's default token lifetime, in seconds (3600)."""
MAX_NUMERIC_DATE: int
"""The latest time a token's dates may name: the end of year 9999 (253402300799 s)."""

@final
class ChannelTemplate:
    """A validated channel template such as `chat.{roomId}.messages`.

    Raises:
        ChannelError: the template breaks the grammar (docs/spec.md §1.1).
    """

    def __new__(cls, template: str) -> ChannelTemplate: ...
    @property
    def template(self) -> str:
        """The template text."""
    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names in template order; empty for a static template."""
    def render(self, values: Mapping[str, str | int] | None = None) -> str:
        """Render the wire id for `values`, which must name every parameter and nothing else.

        Raises:
            ChannelError: a missing, extra, empty or non-`str`/`int` value, or an id over 512 bytes.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def render_channel(template: str, values: Mapping[str, str | int] | None = None) -> str:
    """`ChannelTemplate(template).render(values)`."""

def parse_channel(wire_id: str) -> tuple[str, dict[str, str]]:
    """Split a wire id into its template and parameter values.

    Raises:
        ChannelError: `wire_id` is not the canonical rendering of any template and values.
    """

@final
class Grants:
    """What a verified token allows: an immutable set of exact channel ids."""

    @property
    def identity(self) -> str:
        """The token's `sub`."""
    @property
    def channels(self) -> tuple[str, ...]:
        """The granted wire ids, in the token's order (sorted for tokens sock8 signs)."""
    @property
    def expires_at(self) -> int:
        """`floor(exp)`, epoch seconds."""
    @property
    def issued_at(self) -> int:
        """`floor(iat)`, epoch seconds."""
    @property
    def jti(self) -> str | None:
        """The token id, when the token has one."""
    def allows(self, channel: str) -> bool:
        """Whether `channel` is exactly one of the granted ids; cost independent of their number.

        Raises:
            TypeError: `channel` is not a `str`.
        """
    def __contains__(self, channel: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...

@final
class Signer:
    """Signs HS256 grant tokens with one key.

    Raises:
        ConfigError: a secret under 32 bytes or that looks like a PEM, SSH or JWK key; a bad
            `kid`, `audience`, `issuer` or `ttl`.
    """

    def __new__(
        cls,
        secret: str | bytes,
        *,
        kid: str | None = None,
        audience: str | None = "sock8",
        issuer: str | None = None,
        ttl: int = 3600,
    ) -> Signer: ...
    @property
    def kid(self) -> str | None:
        """The key name written into the header, if any."""
    @property
    def audience(self) -> str | None:
        """The `aud` claim written into every token, if any."""
    @property
    def issuer(self) -> str | None:
        """The `iss` claim written into every token, if any."""
    @property
    def ttl(self) -> int:
        """Default lifetime in seconds."""
    def sign(
        self,
        identity: str,
        channels: Iterable[str],
        *,
        now: float | None = None,
        ttl: int | None = None,
        jti: str | None = None,
    ) -> str:
        """Sign a token for `identity` granting exactly `channels` (sorted, de-duplicated).

        Arguments:
            identity: the `sub` claim, a non-empty string.
            channels: wire ids to grant.
            now: epoch seconds; defaults to the system clock. `iat` is its floor.
            ttl: lifetime in seconds; defaults to the signer's.
            jti: token id; defaults to 128 random bits.

        Raises:
            ChannelError: a channel is not a valid wire id.
            InvalidClaims: an empty identity, more than 10,000 channels, or a token over 512 KiB.
            ConfigError: `ttl` out of range.
            ValueError: `now` outside the NumericDate range.
        """

@final
class Verifier:
    """Verifies HS256 grant tokens strictly (docs/spec.md §4).

    `secret` is one key, or a mapping from key name (`None` for the unnamed key) to key.

    Raises:
        ConfigError: a bad key, or a limit, leeway, audience or issuer out of range.
    """

    def __new__(
        cls,
        secret: str | bytes | Mapping[str | None, str | bytes],
        *,
        audience: str | None = "sock8",
        issuer: str | None = None,
        leeway: float = 0,
        max_token_bytes: int = 524288,
        max_depth: int = 8,
        max_channels: int = 10000,
    ) -> Verifier: ...
    @property
    def audience(self) -> str | None:
        """The audience a token must carry, or `None` for tokens without `aud`."""
    @property
    def issuer(self) -> str | None:
        """The issuer a token must carry, or `None` to ignore `iss`."""
    @property
    def leeway(self) -> float:
        """Seconds of clock skew tolerated on `exp`, `nbf` and `iat`."""
    @property
    def kids(self) -> tuple[str | None, ...]:
        """Names of the configured keys."""
    def verify(self, token: str | bytes, *, now: float | None = None) -> Grants:
        """Verify `token` and return what it grants.

        Arguments:
            token: a JWS compact token.
            now: epoch seconds; defaults to the system clock.

        Raises:
            MalformedToken, BadSignature, UnknownKey, InvalidClaims, TokenExpired,
            TokenNotYetValid: see docs/spec.md §4 for which check raises which.
            TypeError: `token` is neither `str` nor `bytes`.
        """

@final
class Keys:
    """Named HMAC keys, held by the Rust core, from which signers and verifiers are made.

    `Keys({"2026-11": secret})`; the name `None` is the unnamed key (tokens without `kid`).
    The secrets stay in the core: the `repr` shows names only, and a `Keys` cannot be pickled
    (a copy is the same object). Immutable: `add` and `without` return new key sets.

    Raises:
        ConfigError: no key, a bad or duplicate name, or a secret refused by docs/spec.md §2.
        TypeError: not a mapping, a name that is neither `str` nor `None`, a secret that is
            neither `str` nor `bytes`.
    """

    def __new__(cls, keys: Mapping[str | None, str | bytes]) -> Keys: ...
    @property
    def kids(self) -> tuple[str | None, ...]:
        """The key names, in the order given (`None` is the unnamed key)."""
    def signer(
        self,
        kid: str | None,
        *,
        audience: str | None = "sock8",
        issuer: str | None = None,
        ttl: int = 3600,
    ) -> Signer:
        """A `Signer` with the key named `kid`, which it writes into token headers.

        Raises:
            ConfigError: no key is named `kid`; a bad `audience`, `issuer` or `ttl`.
        """
    def verifier(
        self,
        *,
        audience: str | None = "sock8",
        issuer: str | None = None,
        leeway: float = 0,
        max_token_bytes: int = 524288,
        max_depth: int = 8,
        max_channels: int = 10000,
    ) -> Verifier:
        """A `Verifier` that accepts every key, selected by the token's `kid` (the options are
        `Verifier`'s)."""
    def add(self, kid: str | None, secret: str | bytes) -> Keys:
        """These keys and one more, last.

        Raises:
            ConfigError: `kid` is already there, or the name or secret is refused.
        """
    def without(self, kid: str | None) -> Keys:
        """These keys without the one named `kid`.

        Raises:
            ConfigError: no key is named `kid`, or it is the last one.
        """
    def __contains__(self, kid: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __reduce__(self) -> NoReturn:
        """Refused with a `TypeError`: a pickle would write the secrets out as plain data."""
    def __copy__(self) -> Keys: ...
    def __deepcopy__(self, memo: Any, /) -> Keys: ...

def check_json(text: str | bytes, *, max_depth: int = 64) -> None:
    """Check that `text` is exactly one strict JSON value (docs/spec.md §5): any type, only
    whitespace around it, no duplicate member names at any depth, no `NaN`/`Infinity`, no number
    too large for a double, no lone surrogate, valid UTF-8 (`bytes`), nesting at most
    `max_depth` deep (the outermost array or object is 1).

    Raises:
        ValueError: the text is not one such value (the message says what and where), or
            `max_depth` is not from 1 to 128.
        TypeError: `text` is neither `str` nor `bytes`.
    """

@final
class UnverifiedToken:
    """A token's header and claims as decoded by `decode_unverified`: nothing is verified.

    Each part is decoded on its own, by the verifier's own rules (canonical base64url, strict
    JSON, depth at most 8), so a part that fails leaves the others to show. A JSON number
    written without fraction or exponent that fits 64 bits is an `int`, any other a `float`.
    """

    @property
    def header(self) -> dict[str, Any] | None:
        """The header's members (a new dict each time), or `None` (see `header_error`)."""
    @property
    def header_error(self) -> MalformedToken | None:
        """Why the header could not be decoded, or `None`."""
    @property
    def claims(self) -> dict[str, Any] | None:
        """The payload's members (a new dict each time), or `None` (see `claims_error`)."""
    @property
    def claims_error(self) -> MalformedToken | None:
        """Why the payload could not be decoded, or `None`."""
    @property
    def signature_bytes(self) -> int | None:
        """How many bytes the signature segment decodes to (32 for HS256), or `None`."""
    @property
    def signature_error(self) -> MalformedToken | None:
        """Why the signature segment is not canonical base64url, or `None`."""

def decode_unverified(token: str | bytes) -> UnverifiedToken:
    """Decode `token`'s header and claims without verifying anything: for inspecting a token,
    never for trusting one (`Verifier.verify` does that).

    Raises:
        MalformedToken: the token is over 524,288 bytes, not exactly three `.`-separated
            segments, or a `str` with a lone surrogate (the verifier's steps 1-3).
        TypeError: `token` is neither `str` nor `bytes`.
    """
