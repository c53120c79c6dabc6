"""sock8.js under Node's test runner (tests/browser/js/*.test.mjs), and `channelId` against
the Rust core on generated values, so that `make test` runs both."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from typing import Any

import pytest
import sock8

from tests.support.repo import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: nodejs)")
JS = ROOT / "tests" / "browser" / "js"
MODULE = ROOT / "python" / "sock8" / "static" / "sock8.js"


def _node(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(  # noqa: S603 - node, with our own arguments
        [NODE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_node_unit_tests_pass() -> None:
    tests = sorted(str(path) for path in JS.glob("*.test.mjs"))
    assert tests, "no node tests found"
    result = _node("--test", *tests)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def _values(rng: random.Random) -> str | int:
    alphabet = "aZ09_~-.#%/ ()é😀\x00\n\u2028"
    if rng.random() < 0.2:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def test_channel_id_renders_as_the_core_on_generated_values() -> None:
    rng = random.Random(8)
    templates = ["user.{id}", "chat.{roomId}.messages", "org.{a}.p.{b}.x", "{only}"]
    cases: list[dict[str, Any]] = []
    for _ in range(400):
        template = rng.choice(templates)
        names = [part[1:-1] for part in template.split(".") if part.startswith("{")]
        values = {name: _values(rng) for name in names}
        cases.append({"template": template, "values": values})
    script = (
        f"import {{ channelId }} from {json.dumps(MODULE.as_uri())};"
        "let input = ''; process.stdin.on('data', (d) => (input += d));"
        "process.stdin.on('end', () => {"
        "  const out = JSON.parse(input).map(({ template, values }) => {"
        "    try { return channelId(template, values); } catch (e) { return 'error:' + e.code; }"
        "  });"
        "  process.stdout.write(JSON.stringify(out));"
        "});"
    )
    result = _node("--input-type=module", "-e", script, stdin=json.dumps(cases))
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    for case, got in zip(cases, rendered, strict=True):
        try:
            expected = sock8.render_channel(case["template"], case["values"])
        except sock8.ChannelError:
            expected = "error:invalid_channel"
        assert got == expected, case
