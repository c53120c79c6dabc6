"""The browser client's files: served by the gateway with their content types and revalidation
headers, and copied by `python -m sock8 js DIR`."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

from sock8.gateway import create_app
from starlette.exceptions import StarletteDeprecationWarning

from tests.support.repo import ROOT
from tests.support.secret import SECRET

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

STATIC = ROOT / "python" / "sock8" / "static"


def test_the_gateway_serves_the_module_and_its_types() -> None:
    with TestClient(create_app(secret=SECRET)) as client:
        for name, content_type in [
            ("sock8.js", "text/javascript; charset=utf-8"),
            ("sock8.d.ts", "application/typescript; charset=utf-8"),
        ]:
            response = client.get(f"/{name}", headers={"Origin": "https://app.example"})
            assert response.status_code == 200
            assert response.headers["content-type"] == content_type
            assert response.content == (STATIC / name).read_bytes()
            # Any site may import it (a module script from another origin needs CORS).
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-cache"
            etag = response.headers["etag"]
            assert etag.startswith('"')
            assert len(etag) > 10
            again = client.get(f"/{name}", headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            stale = client.get(f"/{name}", headers={"If-None-Match": '"old"'})
            assert stale.status_code == 200
            assert client.head(f"/{name}").status_code == 200
        assert client.get("/sock8.mjs").status_code == 404
        assert client.post("/sock8.js").status_code == 405


def test_the_js_command_copies_both_files(tmp_path: Path) -> None:
    target = tmp_path / "vendor" / "sock8"
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "sock8", "js", str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in target.iterdir()) == ["sock8.d.ts", "sock8.js"]
    for name in ("sock8.js", "sock8.d.ts"):
        assert (target / name).read_bytes() == (STATIC / name).read_bytes()
        assert str(target / name) in result.stdout


def test_the_js_command_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "sock8", "js", str(blocker / "sub")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("sock8 js: cannot write to")
    assert "Traceback" not in result.stderr
