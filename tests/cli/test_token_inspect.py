"""`sock8 token inspect`: the decoded token, the gateway's verdict on it, granted channels."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sock8 import KeyRing, MalformedToken, Signer, TokenError, cli
from sock8._core import MAX_CHANNELS, MAX_TOKEN_BYTES
from sock8.closest_channels import closest_granted
from sock8.gateway import Gateway
from sock8.token_inspect import (
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    inspect_token,
)

from tests.cli.tokens import CLAIMS, HEADER, NOW, forge, segment
from tests.support.jws import signed
from tests.support.repo import readme_section
from tests.support.secret import OTHER_SECRET, SECRET

TIMEOUT = 20.0
GOOD = forge()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with `SOCK8_SECRET` set unless it removes it."""
    monkeypatch.setenv("SOCK8_SECRET", SECRET)


def inspect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`sock8 token inspect ARGV` in this process: (status, stdout, stderr)."""
    status = cli.main(["token", "inspect", *argv])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert OTHER_SECRET not in out + err
    return status, out, err


def inspect_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status, out, _ = inspect(capsys, *argv, "--json")
    report = json.loads(out)
    assert report["exit_status"] == status
    return status, report


# Every refusal the verifier can give: (case, token, options, class, words of the message).
REFUSALS: list[tuple[str, str, list[str], str, str]] = [
    ("oversized", "a" * (MAX_TOKEN_BYTES + 1), [], "MalformedToken", "-byte limit"),
    ("two segments", "abc.def", [], "MalformedToken", "three '.'-separated segments"),
    ("four segments", GOOD + ".x", [], "MalformedToken", "three '.'-separated segments"),
    ("header base64", "%%" + GOOD[GOOD.index(".") :], [], "MalformedToken", "header is not"),
    ("header utf-8", forge(b"\xff\xfe"), [], "MalformedToken", "header is not UTF-8"),
    ("header not an object", forge("[1]"), [], "MalformedToken", "expected a JSON object"),
    ("header duplicate", forge('{"alg":"HS256","alg":"HS256"}'), [], "MalformedToken", "dup"),
    ("header too deep", forge('{"alg":"HS256","x":' + "[" * 8 + "]" * 8 + "}"), [], "Malf", "deep"),
    ("alg none", forge({"alg": "none"}), [], "MalformedToken", 'alg "none" is not HS256'),
    ("alg not text", forge({"alg": 1}), [], "MalformedToken", "alg must be the string"),
    ("no alg", forge({"typ": "JWT"}), [], "MalformedToken", "header has no alg"),
    ("crit", forge({"alg": "HS256", "crit": ["exp"]}), [], "MalformedToken", "header has crit"),
    ("kid not text", forge({"alg": "HS256", "kid": 7}), [], "MalformedToken", "kid must be"),
    ("unknown kid", forge({"alg": "HS256", "kid": "k9"}), [], "UnknownKey", '"k9"'),
    ("signature base64", GOOD[:-1] + "+", [], "MalformedToken", "signature is not canonical"),
    ("signature length", GOOD.rpartition(".")[0] + ".AAAA", [], "BadSignature", "32 bytes"),
    ("other secret", forge(secret=OTHER_SECRET), [], "BadSignature", "does not match"),
    (
        "payload base64",
        signed(f"{segment(HEADER)}.e3=0", SECRET),
        [],
        "MalformedToken",
        "payload is not canonical base64url",
    ),
    ("payload not json", forge(claims="{sub}"), [], "MalformedToken", "payload: "),
    ("payload too deep", forge(deep=[[[[[[[[1]]]]]]]]), [], "MalformedToken", "nested deeper"),
    ("sub missing", forge(sub=None), [], "InvalidClaims", "sub is missing"),
    ("sub empty", forge(sub=""), [], "InvalidClaims", "sub must be a non-empty string"),
    ("exp missing", forge(exp=None), [], "InvalidClaims", "exp is missing"),
    ("exp not a date", forge(exp="soon"), [], "InvalidClaims", "exp must be a number"),
    ("iat missing", forge(iat=None), [], "InvalidClaims", "iat is missing"),
    ("nbf not a date", forge(nbf=-1), [], "InvalidClaims", "nbf must be a number"),
    ("jti not text", forge(jti=5), [], "InvalidClaims", "jti must be a string"),
    ("channels missing", forge(channels=None), [], "InvalidClaims", "channels is missing"),
    ("channels not a list", forge(channels="news"), [], "InvalidClaims", "list of strings"),
    ("channels not text", forge(channels=[1]), [], "InvalidClaims", "list of strings"),
    (
        "too many channels",
        forge(channels=[f"c.r{i}##id" for i in range(MAX_CHANNELS + 1)]),
        [],
        "InvalidClaims",
        f"more than {MAX_CHANNELS} channels",
    ),
    ("not a channel id", forge(channels=["chat.*"]), [], "InvalidClaims", "channels[0] is not"),
    ("aud missing", forge(aud=None), [], "InvalidClaims", "aud is missing"),
    ("wrong aud", forge(aud="other"), [], "InvalidClaims", "aud does not include"),
    ("iss missing", forge(), ["--issuer", "auth"], "InvalidClaims", "iss is missing"),
    ("wrong iss", forge(iss="evil"), ["--issuer", "auth"], "InvalidClaims", "iss does not match"),
    ("expired", forge(exp=NOW - 1), [], "TokenExpired", "token expired"),
    ("expired at exp", forge(exp=NOW), [], "TokenExpired", "token expired"),
    ("nbf ahead", forge(nbf=NOW + 60), [], "TokenNotYetValid", "nbf is in the future"),
    ("iat ahead", forge(iat=NOW + 60), [], "TokenNotYetValid", "iat is in the future"),
    ("iat past leeway", forge(iat=NOW + 60), ["--leeway", "59"], "TokenNotYetValid", "iat"),
]


def gateway_error(token: str, options: list[str]) -> TokenError:
    """What the gateway's own verifier raises for `token` (its options as on the command line)."""
    pairs = dict(zip(options[::2], options[1::2], strict=True))
    gateway = Gateway(
        secret=SECRET,
        issuer=pairs.get("--issuer"),
        leeway=float(pairs.get("--leeway", 0)),
    )
    with pytest.raises(TokenError) as refused:
        gateway.verifier.verify(token, now=NOW)
    return refused.value


@pytest.mark.parametrize(
    ("token", "options", "error", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
def test_every_refusal_is_the_gateways_error(
    capsys: pytest.CaptureFixture[str], token: str, options: list[str], error: str, words: str
) -> None:
    expected = gateway_error(token, options)
    assert type(expected).__name__.startswith(error)
    assert words in str(expected)
    status, report = inspect_json(capsys, token, "--now", str(NOW), *options)
    assert status == EXIT_REFUSED
    assert report["verified"] is False
    assert report["refusal"]["error"] == type(expected).__name__
    assert report["refusal"]["message"] == str(expected)
    status, out, _ = inspect(capsys, token, "--now", str(NOW), *options)
    assert status == EXIT_REFUSED
    assert f"{type(expected).__name__}: {expected}" in out.splitlines()[1]


def test_a_good_token_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = inspect(capsys, GOOD, "--now", str(NOW))
    assert (status, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0].startswith("VERIFIED with the keys [unnamed] (audience 'sock8'")
    assert '  sub       "user-1"' in lines
    assert "  exp       1700003600  (2023-11-14T23:13:20Z, in 1h)" in lines
    assert "  channels  3 ids" in lines
    assert "    chat.r1##roomId" in lines
    assert "signature: 32 bytes" in lines


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    status, report = inspect_json(capsys, GOOD, "--now", str(NOW), "--channel", "news")
    assert status == EXIT_OK
    assert report == {
        "verified": True,
        "refusal": None,
        "header": HEADER,
        "claims": CLAIMS,
        "signature_bytes": 32,
        "decode_errors": {},
        "kids": [None],
        "options": {"audience": "sock8", "issuer": None, "leeway": 0.0, "now": float(NOW)},
        "channel": {
            "channel": "news",
            "listed": True,
            "granted": True,
            "id_error": None,
            "closest": [],
        },
        "notes": [],
        "exit_status": EXIT_OK,
    }


def test_without_a_secret_nothing_is_verified(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCK8_SECRET")
    forged = forge(secret=OTHER_SECRET, sub="admin")
    status, out, _ = inspect(capsys, forged, "--now", str(NOW), "--channel", "news")
    assert status == EXIT_NOT_VERIFIED
    assert out.startswith("NOT VERIFIED: no key given (set SOCK8_SECRET or pass --key-ring FILE)")
    assert "anyone can write a token that says this" in out
    assert '  sub       "admin"' in out
    assert "channel 'news': listed in the unverified claims (nothing verified)" in out
    status, report = inspect_json(capsys, forged, "--now", str(NOW), "--channel", "news")
    assert status == EXIT_NOT_VERIFIED
    assert report["verified"] is None
    assert report["refusal"] is None
    assert report["kids"] == []
    assert report["claims"]["sub"] == "admin"
    assert report["channel"]["granted"] is None
    assert report["channel"]["listed"] is True
    # Not listed even in the claims: a failure that needs no key.
    status, report = inspect_json(capsys, forged, "--channel", "chat.r9##roomId")
    assert status == EXIT_REFUSED
    assert report["channel"]["closest"][0]["channel"] == "chat.r1##roomId"


def test_an_undecodable_token_without_a_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCK8_SECRET")
    status, report = inspect_json(capsys, "not-a-token")
    assert status == EXIT_REFUSED
    assert report["decode_errors"]["token"]["error"] == "MalformedToken"
    assert report["header"] is None
    status, report = inspect_json(capsys, "%%." + GOOD.split(".", 1)[1])
    assert status == EXIT_REFUSED
    assert report["decode_errors"]["header"]["message"] == (
        "malformed token: header is not canonical base64url"
    )
    assert report["claims"] == CLAIMS


def test_the_readable_report_explains_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = inspect(capsys, forge(exp=NOW - 90), "--now", str(NOW))
    assert "  note: exp was 1m 30s before now (2023-11-14T22:13:20Z); leeway is 0 s" in out
    _, out, _ = inspect(capsys, forge(aud="sock8:publish"), "--now", str(NOW))
    assert "  note: the token's aud is 'sock8:publish'; --audience is 'sock8'" in out
    assert "check it with --publish" in out
    status, _, _ = inspect(capsys, forge(aud="sock8:publish"), "--now", str(NOW), "--publish")
    assert status == EXIT_OK
    _, out, _ = inspect(capsys, forge(nbf=NOW + 7200), "--now", str(NOW))
    assert "  note: nbf is 2h after now" in out
    _, out, _ = inspect(capsys, forge(secret=OTHER_SECRET), "--now", str(NOW))
    assert "signed with another secret" in out
    _, out, _ = inspect(capsys, GOOD.rpartition(".")[0] + ".AAAA", "--now", str(NOW))
    assert "note:" not in out
    # The note follows the claim the message is about, not a word quoted in it.
    _, out, _ = inspect(capsys, forge(channels=["x.aud!"]), "--now", str(NOW))
    assert "channels[0] is not a channel id" in out
    assert "note:" not in out


def test_leeway_and_now_as_the_gateway_takes_them(capsys: pytest.CaptureFixture[str]) -> None:
    late = forge(iat=NOW - 600, exp=NOW - 30)
    assert inspect(capsys, late, "--now", str(NOW))[0] == EXIT_REFUSED
    assert inspect(capsys, late, "--now", str(NOW), "--leeway", "31")[0] == EXIT_OK
    # ISO 8601, UTC without an offset.
    assert inspect(capsys, late, "--now", "2023-11-14T22:12:49")[0] == EXIT_OK
    assert inspect(capsys, late, "--now", "2023-11-14T22:12:50+00:00")[0] == EXIT_REFUSED


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["token", "inspect", GOOD, "--now", "tomorrow"])
    assert exited.value.code == 2
    assert "not epoch seconds nor an ISO 8601 time" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["token", "inspect", GOOD, "--leeway", "-1"])
    capsys.readouterr()
    status, _, err = inspect(capsys, GOOD, "--now", "1e300")
    assert (status, err.strip()) == (
        EXIT_USAGE,
        "sock8 token inspect: now must be from 0 to 253402300799 seconds",
    )


def test_a_bad_secret_is_reported_without_the_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for secret in ["short-secret-value", "-----BEGIN PUBLIC KEY-----" + "A" * 40]:
        monkeypatch.setenv("SOCK8_SECRET", secret)
        status, out, err = inspect(capsys, GOOD)
        assert (status, out) == (EXIT_USAGE, "")
        assert err.startswith("sock8 token inspect: secret ")
        assert secret not in err


# Channels.


def test_a_channel_not_granted_gets_the_closest_granted_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = forge(
        channels=["chat.r1##roomId", "chat.a%2Eb##roomId", "news", "org.o1##org.t2##team"]
    )
    status, out, _ = inspect(capsys, token, "--now", str(NOW), "--channel", "chat.r3##roomId")
    assert status == EXIT_REFUSED
    assert "channel 'chat.r3##roomId': NOT GRANTED" in out
    assert (
        "    chat.r1##roomId     same template 'chat.{roomId}': roomId 'r1' instead of 'r3'" in out
    )
    status, report = inspect_json(capsys, token, "--now", str(NOW), "--channel", "chat.a.b")
    assert status == EXIT_REFUSED
    assert report["channel"]["closest"][0] == {
        "channel": "chat.a%2Eb##roomId",
        "kind": "escaping",
        "detail": "the same text, 'chat.a.b', written another way",
    }
    assert report["channel"]["id_error"] is None
    # A lower-case escape is not a channel id at all: both are said.
    _, report = inspect_json(capsys, token, "--channel", "chat.a%2eb##roomId")
    assert report["channel"]["id_error"]["error"] == "ChannelError"
    assert report["channel"]["closest"][0]["channel"] == "chat.a%2Eb##roomId"
    status, out, _ = inspect(capsys, token, "--now", str(NOW), "--channel", "weather")
    assert "  no granted id is close to it" in out


def test_a_refused_token_grants_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    status, report = inspect_json(
        capsys, forge(exp=NOW - 1), "--now", str(NOW), "--channel", "news"
    )
    assert status == EXIT_REFUSED
    assert (report["channel"]["listed"], report["channel"]["granted"]) == (True, False)
    _, out, _ = inspect(capsys, forge(exp=NOW - 1), "--now", str(NOW), "--channel", "news")
    assert "channel 'news': NOT GRANTED: listed, but the token is refused" in out


def test_closest_granted_ranks_escaping_then_fewest_changed_values_then_spelling() -> None:
    granted = [
        "team.t1##team.u9##user",
        "team.t2##team.u1##user",
        "team.t9##team.u9##user",
        "teams.t1##team.u1##user",
        "team.t1##team.u1##user.x",
        "team.t%2E1##team.u1##user",
    ]
    found = closest_granted("team.t.1##team.u1##user", granted)
    assert (found[0].channel, found[0].kind) == ("team.t%2E1##team.u1##user", "escaping")
    found = closest_granted("team.t1##team.u1##user", granted)
    kinds = [(s.channel, s.kind) for s in found]
    # One value changed, then two, then spelt alike; at most five.
    assert set(kinds[:3]) == {
        ("team.t1##team.u9##user", "parameters"),
        ("team.t2##team.u1##user", "parameters"),
        ("team.t%2E1##team.u1##user", "parameters"),
    }
    assert kinds[3] == ("team.t9##team.u9##user", "parameters")
    assert kinds[4][1] == "similar"
    assert len(kinds) == 5
    one_user = next(s for s in found if s.channel == "team.t1##team.u9##user")
    assert one_user.detail == "same template 'team.{team}.{user}': user 'u9' instead of 'u1'"
    assert len(closest_granted("team.t1##team.u1##user", granted, limit=2)) == 2
    assert closest_granted("news", ["news"]) == []
    assert closest_granted("news", []) == []


def test_closest_granted_among_the_most_channels_a_token_holds() -> None:
    granted = [f"room.r{i}##room" for i in range(MAX_CHANNELS)]
    found = closest_granted("room.r5000##rooms", granted)
    assert found[0].channel == "room.r5000##room"
    assert found[0].kind == "escaping"


# The API under the command.


def test_inspect_token_with_a_key_ring() -> None:
    ring = KeyRing({"k1": SECRET, "k2": OTHER_SECRET}, current="k2")
    token = Signer(OTHER_SECRET, kid="k2").sign("u", ["news"], now=NOW)
    report = inspect_token(token, keys=ring, now=NOW, channel="news")
    assert report.verified is True
    assert report.kids == ("k1", "k2")
    assert report.channel is not None
    assert report.channel.granted is True
    report = inspect_token(forge(), keys=ring, now=NOW)
    assert report.refusal is not None
    assert (report.refusal.error, report.refusal.kid) == ("UnknownKey", None)
    assert report.refusal.message == (
        "unknown key: the token has no kid and no unnamed key is configured"
    )


def test_a_lone_surrogate_is_refused_like_the_gateway_does() -> None:
    report = inspect_token("\ud800" + GOOD, keys=SECRET, now=NOW)
    assert report.decode_errors["token"].error == "MalformedToken"
    assert report.refusal is not None
    with pytest.raises(MalformedToken) as refused:
        Gateway(secret=SECRET).verifier.verify("\ud800" + GOOD, now=NOW)
    assert report.refusal.message == str(refused.value)


def test_the_command_runs_from_a_shell(tmp_path: Path) -> None:
    """The installed entry point, the token on standard input."""
    env = {"PATH": "", "SOCK8_SECRET": SECRET, "SYSTEMROOT": ""}
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "sock8", "token", "inspect", "-", "--now", str(NOW), "--json"],
        input=GOOD + "\n",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["claims"]["sub"] == "user-1"
    assert SECRET not in result.stdout + result.stderr


def test_the_readme_example_is_what_the_command_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    section = readme_section("Errors")
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, expected = block.split("\n", 2)[1:]
    assert command.startswith("$ sock8 token inspect - --now 2023-11-15T00:45:00Z")
    channels = ["chat.r1##roomId", "chat.a%2Eb##roomId"]
    token = Signer(SECRET).sign("user-1", channels, now=NOW, jti="j1")
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    argv = shlex.split(command.removeprefix("$ sock8 ").partition(" < ")[0])
    status, out, _ = inspect(capsys, *argv[2:])
    assert status == EXIT_REFUSED
    assert out == expected
