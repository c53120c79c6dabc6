"""The wheel a user installs: built as `make wheel` builds it, installed into a fresh virtualenv
with no Rust toolchain on the path, then used as the README says.

Slow (a release build when the cache is cold, and a pip install of pydantic), so it runs once,
module-wide. `SOCK8_WHEEL=path/to/sock8-….whl` tests a wheel built elsewhere instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support.repo import ROOT, readme_python_blocks


def _run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreters and tools
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def _check(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SOCK8_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    maturin = Path(sys.executable).parent / "maturin"
    _check(_run([str(maturin), "build", "--release", "--quiet", "--out", str(out)], cwd=ROOT))
    (built,) = out.glob("sock8-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel (and its dependencies) installed: its bin dir."""
    home = tmp_path_factory.mktemp("user")
    venv.create(home / "venv", with_pip=True)
    bin_dir = home / "venv" / "bin"
    _check(_run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)]))
    return bin_dir


def _user_env(bin_dir: Path) -> dict[str, str]:
    """What a user's shell has: the virtualenv and the system, no Rust, no source tree."""
    path = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    keep = {"HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {name: value for name, value in os.environ.items() if name in keep}
    return {**env, "PATH": path, "VIRTUAL_ENV": str(bin_dir.parent)}


def test_the_wheel_is_abi3(wheel: Path) -> None:
    # One wheel for every CPython from 3.11 on: cp311-abi3-<platform>.
    assert re.fullmatch(r"sock8-[^-]+-cp311-abi3-[a-z0-9_.]+\.whl", wheel.name), wheel.name


def test_no_rust_toolchain_on_the_users_path(installed: Path) -> None:
    env = _user_env(installed)
    for tool in ("cargo", "rustc"):
        found = _run(["/bin/sh", "-c", f"command -v {tool}"], env=env)
        assert found.returncode != 0, f"{tool} is reachable: {found.stdout}"


def test_the_readme_quick_start_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    quick_start = readme_python_blocks()[0]
    script = tmp_path / "quick_start.py"
    script.write_text(
        "import sock8\nprint('FROM', sock8.__file__)\n" + quick_start, encoding="utf-8"
    )
    # Run outside the repository, so that only the installed package can be imported.
    out = _check(
        _run([str(installed / "python"), str(script)], cwd=tmp_path, env=_user_env(installed))
    )
    location = out.splitlines()[0].removeprefix("FROM ")
    assert Path(location).is_relative_to(installed.parent), location
    assert "chat.r%201##roomId.messages" in out


def test_the_gateway_command_answers_help(installed: Path, tmp_path: Path) -> None:
    result = _run(
        [str(installed / "sock8"), "gateway", "--help"], cwd=tmp_path, env=_user_env(installed)
    )
    out = _check(result)
    assert "--port" in out
    assert "--host" in out
