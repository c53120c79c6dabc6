"""Security hardening: nobody reads a channel they were not granted, whatever they send.

- The adversarial corpus, tests/vectors/adversarial.json (written by generate_adversarial.py with
  the standard library only, read by cargo test too in rust/tests/adversarial.rs): hostile tokens,
  secrets, channel ids, templates and grant probes with the outcome docs/spec.md prescribes, each
  mapped to an item of the security checklist; a test asserts items 1 to 10 are all covered.
- PyJWT's leniencies that sock8 refuses, shown against the installed PyJWT.
- Properties: for any input, the token, grant and channel-id functions return or raise a
  `Sock8Error`; never a panic, `RecursionError`, `OverflowError`, `UnicodeError` or a
  `TypeError` caused by content.
- Bounded work, shown structurally (which check refused, and where the parser stopped), never by
  timing; timings live in benches/bench_hostile.py.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import re
import string
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import sock8
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sock8 import (
    BadSignature,
    ChannelError,
    ChannelTemplate,
    ConfigError,
    Grants,
    KeyRing,
    MalformedToken,
    Signer,
    Sock8Error,
    Verifier,
    parse_channel,
    render_channel,
)
from sock8._core import MAX_CHANNELS, MAX_JSON_DEPTH, MAX_TOKEN_BYTES, MAX_WIRE_ID_BYTES

from tests.support.jws import craft
from tests.support.repo import VECTORS, load_vectors, readme_section

CORPUS: dict[str, Any] = load_vectors("adversarial.json")
SECRET: str = CORPUS["secret"]
OTHER: str = CORPUS["other_secret"]
NOW = 1_700_000_000
FAR = 4_102_444_800
# Error messages show hostile text cut short; none is longer than this.
MAX_MESSAGE_CHARS = 300
SECTIONS = ("tokens", "grants", "secrets", "channels", "templates")


def expand(case: dict[str, Any], field: str) -> Any:
    """The input stored under `field` in one of its representations (generate_adversarial.py)."""
    if field in case:
        return case[field]
    if f"{field}_pieces" in case:
        return "".join(text * times for text, times in case[f"{field}_pieces"])
    if f"{field}_hex" in case:
        return bytes.fromhex(case[f"{field}_hex"])
    if f"{field}_escaped" in case:
        return json.loads('"' + case[f"{field}_escaped"] + '"')
    raise KeyError(field)


def names(section: str) -> Callable[[dict[str, Any]], str]:
    """Test ids: the entry's name, cut short and ASCII."""
    return lambda case: ascii(case["name"])[1:60]


def verifier_for(case: dict[str, Any]) -> Verifier:
    """The verifier an entry asks for: named keys or the corpus secret, and options."""
    return Verifier(case.get("secrets") or SECRET, **case.get("verifier", {}))


def check_message(case: dict[str, Any], error: BaseException) -> None:
    """The message names the check that refused (`message_any`), stays short, and shows neither
    a secret nor the MAC the verifier computed."""
    message = str(error)
    if words := case.get("message_any"):
        assert any(w.lower() in message.lower() for w in words), (message, words)
    assert len(message) <= MAX_MESSAGE_CHARS, len(message)
    assert SECRET not in message
    assert OTHER not in message
    if mac := case.get("expected_mac"):
        assert mac not in message


def outcome(call: Callable[[], object]) -> str:
    """`"ok"`, or the name of the `Sock8Error` raised. Anything else fails the test: a pyo3
    `PanicException` derives from `BaseException`, hence the broad catch."""
    try:
        call()
    except Sock8Error as error:
        return type(error).__name__
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        detail = f"{type(error).__module__}.{type(error).__qualname__}: {error!r}"
        pytest.fail(f"escaped the Sock8Error tree: {detail[:500]}")
    return "ok"


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_covers_every_checklist_item() -> None:
    assert sorted(CORPUS["checklist"], key=int) == [str(i) for i in range(1, 11)]
    counts = dict.fromkeys(range(1, 11), 0)
    for section in SECTIONS:
        for case in CORPUS[section]:
            assert case["checklist"] in counts, case["name"]
            counts[case["checklist"]] += 1
    thin = {item: n for item, n in counts.items() if n < 5}
    assert not thin, f"checklist items with fewer than 5 entries: {thin}"


def test_corpus_exercises_every_refusal() -> None:
    expected = {case.get("expect") for section in SECTIONS for case in CORPUS[section]}
    assert expected >= {
        "ok",
        "MalformedToken",
        "BadSignature",
        "UnknownKey",
        "InvalidClaims",
        "TokenExpired",
        "TokenNotYetValid",
        "ChannelError",
        "ConfigError",
    }


def test_corpus_is_what_the_generator_writes() -> None:
    """The corpus is reproducible: regenerating it gives the same file, byte for byte."""
    spec = importlib.util.spec_from_file_location(
        "generate_adversarial", VECTORS / "generate_adversarial.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (VECTORS / "adversarial.json").read_text(encoding="ascii")


@pytest.mark.parametrize("case", CORPUS["tokens"], ids=names("tokens"))
def test_token_corpus(case: dict[str, Any]) -> None:
    token = expand(case, "token")
    verifier = verifier_for(case)
    if case["expect"] == "ok":
        assert verifier.verify(token, now=case["now"]).identity
        return
    expected = getattr(sock8, case["expect"])
    with pytest.raises(expected) as caught:
        verifier.verify(token, now=case["now"])
    assert type(caught.value) is expected
    check_message(case, caught.value)
    # A str token and its UTF-8 bytes (WTF-8 for a lone surrogate) meet the same check.
    other = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else token
    assert outcome(lambda: verifier.verify(other, now=case["now"])) == case["expect"]


LENIENT = [case for case in CORPUS["tokens"] if case.get("pyjwt") == "accepts"]


@pytest.mark.parametrize("case", LENIENT, ids=names("tokens"))
def test_pyjwt_accepts_what_sock8_refuses(case: dict[str, Any]) -> None:
    """Padding on the signature, byte-order marks, string and out-of-range times, duplicate
    member names, NaN, deep nesting, oversized tokens, kid traversal: the installed PyJWT
    decodes these; sock8 refuses them."""
    token = expand(case, "token")
    assert case["expect"] != "ok"
    assert outcome(lambda: verifier_for(case).verify(token, now=case["now"])) == case["expect"]
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="sock8")
    except jwt.PyJWTError as error:
        pytest.skip(f"PyJWT {jwt.__version__} refuses this too: {error}")
    assert isinstance(claims, dict)


def test_pyjwt_reads_the_last_duplicate_where_sock8_refuses() -> None:
    """The parser differential behind CVE-2022-39227: a last-wins parser grants what the first
    member did not."""
    case = next(c for c in LENIENT if c["name"].startswith("duplicate channels"))
    claims = jwt.decode(case["token"], SECRET, algorithms=["HS256"], audience="sock8")
    assert claims["channels"] == ["admin.all"]
    with pytest.raises(MalformedToken, match="duplicate"):
        Verifier(SECRET).verify(case["token"], now=case["now"])


def test_pyjwt_leniency_covers_the_named_classes() -> None:
    lenient = " ".join(case["name"] for case in LENIENT)
    for kind in ("padded", "byte-order mark", "numeric string", "year 10000", "duplicate"):
        assert kind in lenient, kind


@pytest.mark.parametrize("case", CORPUS["grants"], ids=names("grants"))
def test_grant_corpus(case: dict[str, Any]) -> None:
    grants = Verifier(SECRET).verify(case["token"], now=case["now"])
    probe = expand(case, "probe")
    assert grants.allows(probe) is case["allows"]
    assert (probe in grants) is case["allows"]


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=names("secrets"))
def test_secret_corpus(case: dict[str, Any]) -> None:
    secret = expand(case, "secret")
    builders: list[Callable[[], object]] = [
        lambda: Signer(secret),
        lambda: Verifier(secret),
        lambda: Verifier({"k": secret}),
        lambda: KeyRing({"k": secret}),
    ]
    for build in builders:
        if case["expect"] == "ok":
            build()
        else:
            with pytest.raises(ConfigError) as caught:
                build()
            # Refusing key material never repeats it.
            text = (secret if isinstance(secret, str) else secret.decode("latin-1")).strip()
            assert len(text) < 8 or text[:16] not in str(caught.value)


@pytest.mark.parametrize("case", CORPUS["channels"], ids=names("channels"))
def test_channel_corpus(case: dict[str, Any]) -> None:
    wire_id = expand(case, "id")
    if case["expect"] == "ok":
        template, values = parse_channel(wire_id)
        if "template" in case:
            assert (template, values) == (case["template"], case["values"])
        assert render_channel(template, values) == wire_id
        return
    with pytest.raises(ChannelError) as caught:
        parse_channel(wire_id)
    check_message(case, caught.value)


@pytest.mark.parametrize("case", CORPUS["templates"], ids=names("templates"))
def test_template_corpus(case: dict[str, Any]) -> None:
    template = expand(case, "template")
    raw_values = case.get("values") or {}
    values: dict[str, str] = {
        name: v if isinstance(v, str) else "".join(t * n for t, n in v)
        for name, v in raw_values.items()
    }
    for name, escaped in case.get("value_escaped", {}).items():
        values[name] = json.loads(f'"{escaped}"')
    if case["expect"] == "ok":
        wire_id = ChannelTemplate(template).render(values)
        assert wire_id == case["id"]
        assert render_channel(template, values) == wire_id
        assert parse_channel(wire_id) == (template, values)
        return
    with pytest.raises(ChannelError) as caught:
        render_channel(template, values)
    check_message(case, caught.value)


# --- bounded work, shown by which check refused -----------------------------------------------


def claims(**changes: Any) -> bytes:
    """Valid claims as JSON, with members changed."""
    body: dict[str, Any] = {
        "sub": "u1",
        "aud": "sock8",
        "iat": NOW,
        "exp": FAR,
        "channels": ["admin.logs"],
    }
    body.update(changes)
    return json.dumps(body, separators=(",", ":")).encode()


HEADER = b'{"alg":"HS256","typ":"JWT"}'
PAD = "p" * 3000
DEFECTS: dict[str, tuple[str, str]] = {
    # name: (token, what the verifier says when size is not the problem)
    "valid": (craft(HEADER, claims(pad=PAD), SECRET), "ok"),
    "header not base64": ("!" + craft(HEADER, claims(pad=PAD), SECRET), "MalformedToken"),
    "header not JSON": (craft(b"{", claims(pad=PAD), SECRET), "MalformedToken"),
    "alg none": (craft(b'{"alg":"none"}', claims(pad=PAD), SECRET), "MalformedToken"),
    "unknown kid": (craft(b'{"alg":"HS256","kid":"x"}', claims(pad=PAD), SECRET), "UnknownKey"),
    "wrong key": (craft(HEADER, claims(pad=PAD), secret=OTHER), "BadSignature"),
    "bad claims": (craft(HEADER, claims(pad=PAD, sub=""), SECRET), "InvalidClaims"),
    "expired": (craft(HEADER, claims(pad=PAD, exp=NOW), SECRET), "TokenExpired"),
    "not yet valid": (craft(HEADER, claims(pad=PAD, nbf=FAR - 1), SECRET), "TokenNotYetValid"),
    "four segments": (craft(HEADER, claims(pad=PAD), SECRET) + ".x", "MalformedToken"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_size_check_runs_before_any_other(defect: str) -> None:
    """The same token, one byte over the limit, is refused for its size whatever else is wrong
    with it: no base64, JSON, key lookup or MAC work happened first."""
    token, verdict = DEFECTS[defect]
    at_limit = Verifier(SECRET, max_token_bytes=len(token))
    assert outcome(lambda: at_limit.verify(token, now=NOW + 10)) == verdict
    under = Verifier(SECRET, max_token_bytes=len(token) - 1)
    with pytest.raises(MalformedToken, match=f"over the {len(token) - 1}-byte limit"):
        under.verify(token, now=NOW + 10)


def test_a_megabyte_token_is_refused_by_size() -> None:
    big = craft(HEADER, claims(pad="A" * (1 << 20)), SECRET)
    with pytest.raises(MalformedToken, match=str(MAX_TOKEN_BYTES)):
        Verifier(SECRET).verify(big, now=NOW + 10)
    dots = "." * (1 << 20)
    with pytest.raises(MalformedToken, match=str(MAX_TOKEN_BYTES)):
        Verifier(SECRET).verify(dots, now=NOW + 10)


@pytest.mark.parametrize(("opener", "count"), [(b"[", 100_000), (b'{"a":', 50_000)])
def test_deep_nesting_stops_at_the_limit_not_at_the_end(opener: bytes, count: int) -> None:
    """Tens of thousands of unclosed containers: a parser that read to the end would report the
    missing closers; sock8 reports the depth, at a position within the first few containers."""
    header = b'{"alg":"HS256","x":' + opener * count
    token = craft(header, claims(), SECRET)
    with pytest.raises(MalformedToken, match=f"deeper than {MAX_JSON_DEPTH}") as caught:
        Verifier(SECRET).verify(token, now=NOW + 10)
    if position := re.search(r"column (\d+)", str(caught.value)):
        # The limit is hit at the 9th level: within the first 20 + 8 * 5 bytes.
        assert int(position.group(1)) <= 60, str(caught.value)


def test_deep_nesting_past_the_mac_is_refused_too() -> None:
    token = craft(HEADER, claims()[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", SECRET)
    with pytest.raises(MalformedToken, match="deeper"):
        Verifier(SECRET).verify(token, now=NOW + 10)


def test_channel_ids_are_refused_by_size_first() -> None:
    # Each would fail a later check too (empty segment, bad character, too many segments);
    # the size message shows the size check came first.
    for wire_id in ("." * 1_000_000, "*" * (MAX_WIRE_ID_BYTES + 1), "a." * 500_000):
        with pytest.raises(ChannelError, match=f"over the {MAX_WIRE_ID_BYTES}-byte limit"):
            parse_channel(wire_id)
    with pytest.raises(ChannelError, match="longer than any valid template"):
        ChannelTemplate("{" * 1_000_000)
    with pytest.raises(ChannelError, match="more than 16 segments"):
        parse_channel(".".join(["a"] * 17))


def test_channel_counts_are_capped() -> None:
    ids = ["a"] * (MAX_CHANNELS + 1)
    token = craft(HEADER, claims(channels=ids), SECRET)
    with pytest.raises(sock8.InvalidClaims, match=f"more than {MAX_CHANNELS}"):
        Verifier(SECRET).verify(token, now=NOW + 10)


@pytest.mark.parametrize("digits", [600, 4_300, 5_000, 100_000])
def test_enormous_int_values_are_channel_errors(digits: int) -> None:
    """An int whose decimal form cannot fit a wire id is refused by size; past Python's
    int-to-str digit limit (4,300 digits) converting it would raise a plain ValueError."""
    with pytest.raises(ChannelError, match="byte limit"):
        render_channel("user.{id}", {"id": 10 ** (digits - 1)})
    with pytest.raises(ChannelError, match="byte limit"):
        render_channel("user.{id}", {"id": -(10 ** (digits - 1))})
    assert render_channel("user.{id}", {"id": -(10**400)}).startswith("user.-1000")


# --- properties over hostile input ------------------------------------------------------------

CHAOS_CHARS = st.one_of(
    st.characters(exclude_categories=()),  # any code point, surrogates included
    st.characters(categories=["Cs"]),  # lone surrogates, more often
    st.sampled_from(list(".#%{}*>~_-=+/\x00\ufeff\u2024\uff0e")),
)
chaos_text = st.text(CHAOS_CHARS, max_size=80)
huge_text = st.builds(
    lambda unit, times: unit * times,
    st.sampled_from(["A", ".", "[", "{", "eyJ", "a.", "%FF", "\ud800", "\u00e9", "##x"]),
    st.integers(0, 1_100_000),
)
B64URL = string.ascii_letters + string.digits + "-_"


@st.composite
def json_values(draw: st.DrawFn) -> bytes:
    """JSON-ish text: real JSON values, deep nesting, duplicates, huge or odd numbers, junk."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        value = draw(
            st.recursive(
                st.one_of(
                    st.none(),
                    st.booleans(),
                    st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=8),
                ),
                lambda inner: st.one_of(
                    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner)
                ),
                max_leaves=12,
            )
        )
        return json.dumps(value).encode()
    if kind == 1:
        depth = draw(st.sampled_from([7, 8, 9, 127, 128, 129, 5_000, 100_000]))
        return b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    if kind == 2:
        return draw(st.sampled_from([b"NaN", b"Infinity", b"-0.0", b"1e400", b"1" + b"0" * 400]))
    if kind == 3:
        key = draw(st.sampled_from([b'"sub"', b'"\\u0073ub"', b'"channels"', b'"exp"']))
        return b"{" + key + b":1," + key + b":2}"
    if kind == 4:
        return draw(st.text(max_size=12)).encode("utf-8", "surrogatepass")
    return draw(st.binary(max_size=16))


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    """Payloads near valid claims: every claim may be missing or replaced by hostile JSON."""
    members: list[bytes] = []
    valid: dict[str, Any] = {
        "sub": "u1",
        "aud": "sock8",
        "iat": NOW,
        "exp": FAR,
        "channels": ["admin.logs"],
    }
    for name, value in valid.items():
        choice = draw(st.integers(0, 4))
        if choice == 0:
            continue
        raw = json.dumps(value).encode() if choice > 1 else draw(json_values())
        members.append(json.dumps(name).encode() + b":" + raw)
    if draw(st.booleans()):
        members.append(b'"channels":' + draw(json_values()))
    return b"{" + b",".join(members) + b"}"


@st.composite
def signed_tokens(draw: st.DrawFn) -> str:
    """Tokens MACed with the verifier's key, so hostile payloads reach the claim checks."""
    header = draw(
        st.one_of(
            st.just(HEADER),
            st.sampled_from([b'{"alg":"HS256","kid":1}', b'{"alg":"HS256","crit":[]}']),
            json_values().map(lambda v: b'{"alg":"HS256","x":' + v + b"}"),
        )
    )
    payload = draw(st.one_of(hostile_payloads(), json_values()))
    return craft(header, payload, SECRET)


@st.composite
def token_shaped(draw: st.DrawFn) -> str:
    """Three or so base64url-ish segments."""
    segments = draw(st.lists(st.text(B64URL + "=+/ .", max_size=60), min_size=1, max_size=5))
    return ".".join(segments)


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    """A valid token with a few characters inserted, deleted or replaced."""
    token = Signer(SECRET).sign("u1", ["admin.logs"], now=NOW, jti="j")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(token)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(CHAOS_CHARS)
        if edit == "insert":
            token = token[:at] + char + token[at:]
        elif edit == "delete":
            token = token[:at] + token[at + 1 :]
        else:
            token = token[:at] + char + token[at + 1 :]
    return token


any_tokens: st.SearchStrategy[str | bytes] = st.one_of(
    st.binary(max_size=200),
    chaos_text,
    huge_text,
    token_shaped(),
    mutated_tokens(),
    signed_tokens(),
    signed_tokens().map(lambda t: t.encode()),
)
PROPERTY = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
VERIFIERS = [
    Verifier(SECRET),
    Verifier({"k": SECRET, None: OTHER}, audience=None, max_depth=2, max_channels=1),
    Verifier(SECRET, max_token_bytes=64, leeway=86_400),
]


@PROPERTY
@given(token=any_tokens)
def test_verify_returns_or_raises_a_sock8_error(token: str | bytes) -> None:
    for verifier in VERIFIERS:
        outcome(functools.partial(verifier.verify, token, now=NOW + 10))


@PROPERTY
@given(token=signed_tokens())
def test_verified_grants_are_valid_channel_ids_and_wrong_macs_never_verify(token: str) -> None:
    """Whatever a token holds, what verifies grants only valid wire ids (the validator used at
    issue time), and the same token under another key's MAC never verifies."""
    verifier = Verifier(SECRET)
    if outcome(lambda: verifier.verify(token, now=NOW + 10)) == "ok":
        grants = verifier.verify(token, now=NOW + 10)
        for channel in grants.channels:
            template, values = parse_channel(channel)
            assert render_channel(template, values) == channel
    head, payload, _ = token.split(".")
    forged = craft(
        base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)),
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
        secret=OTHER,
    )
    assert outcome(lambda: verifier.verify(forged, now=NOW + 10)) != "ok"


GRANTS: Grants = Verifier(SECRET).verify(
    Signer(SECRET).sign("u", ["admin.logs"] + [f"r.r{i}##id" for i in range(20)], now=NOW),
    now=NOW,
)


@PROPERTY
@given(probe=st.one_of(chaos_text, huge_text))
def test_allows_answers_every_str_with_a_bool(probe: str) -> None:
    for grants in (
        GRANTS,
        Verifier(SECRET).verify(Signer(SECRET).sign("u", ["a"], now=NOW), now=NOW),
    ):
        answer = grants.allows(probe)
        assert answer is (probe in grants.channels)
        assert (probe in grants) is answer


value_objects = st.one_of(
    chaos_text,
    huge_text,
    st.integers(),
    st.sampled_from([10**700, -(10**5000), 0, -1]),
    st.floats(),
    st.none(),
    st.booleans(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
)
TEMPLATES = ["chat.{roomId}.messages", "user.{id}", "a.{x}.b.{y}", "admin.logs"]


@PROPERTY
@given(
    text=st.one_of(chaos_text, huge_text),
    template=st.one_of(st.sampled_from(TEMPLATES), chaos_text),
    values=st.dictionaries(
        st.one_of(st.sampled_from(["roomId", "id", "x", "y"]), chaos_text), value_objects
    ),
)
def test_channel_functions_return_or_raise_channel_errors(
    text: str, template: str, values: dict[str, Any]
) -> None:
    for call in (
        lambda: parse_channel(text),
        lambda: ChannelTemplate(text),
        lambda: render_channel(template, values),
        lambda: render_channel(text, values),
    ):
        result = outcome(call)
        assert result in ("ok", "ChannelError"), result
    if outcome(lambda: render_channel(template, values)) == "ok":
        wire_id = render_channel(template, values)
        assert len(wire_id.encode()) <= MAX_WIRE_ID_BYTES
        assert parse_channel(wire_id)[0] == template


# --- types: TypeError for the wrong kind of argument, never for content -----------------------

NOT_TEXT: list[object] = [None, 1, 1.5, b"admin.logs", bytearray(b"a.b.c"), ["a"], object()]


@pytest.mark.parametrize("bad", NOT_TEXT, ids=lambda b: type(b).__name__)
def test_wrong_argument_types_are_type_errors(bad: object) -> None:
    if not isinstance(bad, bytes):
        with pytest.raises(TypeError):
            Verifier(SECRET).verify(bad, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        GRANTS.allows(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_channel(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ChannelTemplate(bad)  # type: ignore[arg-type]
    assert (bad in GRANTS) is False


def test_value_types_are_content_errors_and_names_are_type_errors() -> None:
    wrong: list[Any] = [None, True, 1.5, b"x", ["x"]]
    for value in wrong:
        with pytest.raises(ChannelError):
            render_channel("user.{id}", {"id": value})
    with pytest.raises(TypeError):
        render_channel("user.{id}", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        render_channel("user.{id}", ["id", "x"])  # type: ignore[arg-type]


def test_a_bad_signature_message_shows_no_mac_and_no_secret() -> None:
    token = Signer(SECRET).sign("u", [], now=NOW, jti="j")
    good_mac = token.rsplit(".", 1)[1]
    for forged in (
        token[: -len(good_mac)] + "A" * 43,
        Signer(OTHER).sign("u", [], now=NOW, jti="j"),
    ):
        with pytest.raises(BadSignature) as caught:
            Verifier(SECRET).verify(forged, now=NOW)
        message = str(caught.value)
        assert good_mac not in message
        assert forged.rsplit(".", 1)[1] not in message
        assert SECRET not in message


# --- the README documents the errors and limits -----------------------------------------------


def test_readme_error_table_covers_the_whole_tree() -> None:
    errors = readme_section("Errors")
    for name in sock8.errors.__all__:
        assert f"`{name}`" in errors, name
    for limit in (MAX_TOKEN_BYTES, MAX_JSON_DEPTH, MAX_CHANNELS, MAX_WIRE_ID_BYTES):
        assert f"{limit:,}" in errors or str(limit) in errors, limit


def test_readme_security_section_says_how_to_rotate_and_report() -> None:
    security = readme_section("Security")
    for topic in ("KeyRing", "switch_to", "retire", "verify_slice", "advisory"):
        assert topic in security, topic
