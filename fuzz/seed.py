"""Seeds the cargo-fuzz corpora (fuzz/corpus/<target>/) from the test vectors in tests/vectors/:
the adversarial corpus, the token vectors and the channel vectors. Standard library only; run by
`make fuzz` before fuzzing. Seeds larger than MAX_SEED bytes are skipped (the fuzzers run with
`-max_len` at that size; the megabyte inputs are covered by the tests).

Input layouts match the targets' docs in fuzz/fuzz_targets/.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_SEED = 16_384


def expand(case: dict[str, Any], field: str) -> bytes | None:
    """An input of the adversarial corpus as bytes; None for Python-only inputs."""
    if field in case:
        return str(case[field]).encode()
    if f"{field}_pieces" in case:
        return "".join(text * times for text, times in case[f"{field}_pieces"]).encode()
    if f"{field}_hex" in case:
        return bytes.fromhex(case[f"{field}_hex"])
    return None


def unb64(segment: bytes) -> bytes | None:
    """A base64url segment's bytes, leniently (seeds need not be canonical)."""
    try:
        return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except ValueError:
        return None


def tokens() -> Iterator[bytes]:
    adversarial = json.loads((VECTORS / "adversarial.json").read_text())
    vectors = json.loads((VECTORS / "tokens.json").read_text())
    for case in adversarial["tokens"] + adversarial["grants"] + vectors["cases"]:
        token = expand(case, "token")
        if token is None:
            continue
        yield b"\x00" + token
        parts = token.split(b".")
        if len(parts) == 3:
            header, payload = unb64(parts[0]), unb64(parts[1])
            if header is not None and payload is not None:
                yield b"\x01" + header + b"\xff" + payload


def channel_ids() -> Iterator[bytes]:
    adversarial = json.loads((VECTORS / "adversarial.json").read_text())
    vectors = json.loads((VECTORS / "channels.json").read_text())
    for case in adversarial["channels"]:
        if (wire_id := expand(case, "id")) is not None:
            yield wire_id
    for case in vectors["parse"]:
        yield case["id"].encode()
    for case in vectors["render"]:
        if case.get("id"):
            yield case["id"].encode()


def templates() -> Iterator[bytes]:
    adversarial = json.loads((VECTORS / "adversarial.json").read_text())
    vectors = json.loads((VECTORS / "channels.json").read_text())
    cases = vectors["render"] + vectors["templates"] + adversarial["templates"]
    for case in cases:
        template = expand(case, "template")
        if template is None:
            continue
        values = [v for v in (case.get("values") or {}).values() if isinstance(v, str)]
        yield template + b"\xff" + b"\xfe".join(v.encode() for v in values)


def secrets() -> Iterator[bytes]:
    adversarial = json.loads((VECTORS / "adversarial.json").read_text())
    for case in adversarial["secrets"]:
        if (secret := expand(case, "secret")) is not None:
            yield secret


def write(target: str, seeds: Iterator[bytes]) -> int:
    """Write each seed once, named by its SHA-1 as libFuzzer names corpus files."""
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for seed in seeds:
        if len(seed) > MAX_SEED:
            continue
        (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 - a file name
        count += 1
    return count


def main() -> None:
    """Seed every target's corpus."""
    for target, seeds in [
        ("verify_token", tokens()),
        ("decode_token", tokens()),
        ("parse_channel", channel_ids()),
        ("template_render", templates()),
        ("secret_check", secrets()),
    ]:
        print(f"{target}: {write(target, seeds)} seeds")


if __name__ == "__main__":
    main()
