"""`load_key_ring` (sock8/key_file.py) and `sock8 token inspect --key-ring FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sock8 import ConfigError, Signer, cli
from sock8.key_file import MAX_KEY_FILE_BYTES, load_key_ring
from sock8.token_inspect import EXIT_OK, EXIT_REFUSED, EXIT_USAGE

from tests.cli.tokens import NOW
from tests.support.secret import OTHER_SECRET, SECRET


def ring_file(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "ring.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


RING = {
    "current": "2026-11",
    "keys": [{"kid": None, "secret": SECRET}, {"kid": "2026-11", "secret": OTHER_SECRET}],
}


def test_a_ring_file_loads_every_key(tmp_path: Path) -> None:
    ring = load_key_ring(ring_file(tmp_path, RING))
    assert ring.kids == (None, "2026-11")
    assert ring.current == "2026-11"
    verifier = ring.verifier()
    old = Signer(SECRET).sign("u", ["news"], now=NOW)
    new = ring.signer().sign("u", ["news"], now=NOW)
    assert verifier.verify(old, now=NOW).identity == "u"
    assert verifier.verify(new, now=NOW).identity == "u"
    # One key needs no `current`.
    one = load_key_ring(ring_file(tmp_path, {"keys": [{"kid": "a", "secret": SECRET}]}))
    assert (one.kids, one.current) == (("a",), "a")


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("{", "not UTF-8 JSON at line 1 column 2"),
        ([], "expected a JSON object"),
        ({"keys": []}, '"keys" must be a non-empty list'),
        ({"key": []}, "unknown member 'key'"),
        ({"keys": [{"kid": "a"}]}, 'keys[0] must be an object with exactly "kid" and "secret"'),
        ({"keys": [{"kid": 1, "secret": SECRET}]}, "keys[0].kid must be a string or null"),
        ({"keys": [{"kid": "a", "secret": 12345}]}, "keys[0].secret must be a string"),
        (
            {"keys": [{"kid": "a", "secret": SECRET}, {"kid": "a", "secret": OTHER_SECRET}]},
            "keys[1]: key 'a' is already in the file",
        ),
        ('{"keys": [], "keys": []}', "member 'keys' appears twice"),
        ({"keys": RING["keys"]}, "a ring of 2 keys needs current="),
        ({"keys": RING["keys"], "current": "old"}, "current key 'old' is not in the ring"),
        ({"keys": RING["keys"], "current": 3}, '"current" must be a key name or null'),
        ({"keys": [{"kid": "a", "secret": "too-short-secret"}]}, "secret is 16 bytes"),
        ({"keys": [{"kid": "", "secret": SECRET}]}, "key name must be a non-empty string"),
    ],
)
def test_bad_files_are_config_errors_naming_the_file(
    tmp_path: Path, document: Any, words: str
) -> None:
    path = ring_file(tmp_path, document)
    with pytest.raises(ConfigError) as refused:
        load_key_ring(path)
    message = str(refused.value)
    assert message.startswith(f"key ring {str(path)!r}: ")
    assert words in message
    assert SECRET not in message
    assert "too-short-secret" not in message


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file or directory"):
        load_key_ring(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_KEY_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=f"over {MAX_KEY_FILE_BYTES} bytes"):
        load_key_ring(big)


def test_inspect_with_a_ring_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCK8_SECRET", raising=False)
    path = str(ring_file(tmp_path, RING))
    token = Signer(OTHER_SECRET, kid="2026-11").sign("u", ["news"], now=NOW)
    assert cli.main(["token", "inspect", token, "--now", str(NOW), "--key-ring", path]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("VERIFIED with the keys [unnamed, '2026-11']")
    stranger = Signer(OTHER_SECRET, kid="2026-12").sign("u", ["news"], now=NOW)
    argv = ["token", "inspect", stranger, "--now", str(NOW), "--key-ring", path, "--json"]
    assert cli.main(argv) == EXIT_REFUSED
    report = json.loads(capsys.readouterr().out)
    assert report["refusal"] == {
        "error": "UnknownKey",
        "message": 'unknown key: no configured key is named "2026-12"',
        "kid": "2026-12",
    }
    assert report["kids"] == [None, "2026-11"]
    argv = ["token", "inspect", token, "--key-ring", str(tmp_path / "none.json")]
    assert cli.main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sock8 token inspect: key ring ")
    assert SECRET not in captured.err + out
    assert OTHER_SECRET not in captured.err + out
