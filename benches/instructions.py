"""Instructions per call of the Rust core's hot paths, counted by callgrind (reproducible on a
shared, noisy machine where times are not).

Usage: `python benches/instructions.py [--binary PATH] [CASE ...]`. Without `--binary` it builds
`benches/instructions.rs` with `cargo bench --no-run`. Each case runs at two iteration counts;
the difference, divided by the extra iterations, removes the setup's cost.

valgrind does not emulate SHA-NI, so under it sha2 runs its portable SHA-256, which costs far
more instructions than the SHA-NI code the CPU runs natively; those are left out by default
(`--with-sha` keeps them).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build() -> Path:
    out = subprocess.run(
        ["cargo", "bench", "--bench", "instructions", "--no-run", "--message-format=json"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in out.stdout.splitlines():
        message = json.loads(line)
        if (
            message.get("reason") == "compiler-artifact"
            and message["target"]["name"] == "instructions"
        ):
            return Path(message["executable"])
    raise SystemExit("cargo did not report the instructions bench executable")


def count(binary: Path, case: str, iterations: int, *, exclude_sha: bool) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "callgrind.out"
        subprocess.run(  # noqa: S603
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out_file}",
                str(binary),
                case,
                str(iterations),
            ],
            capture_output=True,
            check=True,
        )
        annotate = shutil.which("callgrind_annotate") or "callgrind_annotate"
        report = subprocess.run(  # noqa: S603
            [annotate, "--threshold=100", str(out_file)], capture_output=True, text=True, check=True
        ).stdout
        total = hashing = 0
        for line in report.splitlines():
            match = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)", line)
            if match is None:
                continue
            ir, what = int(match.group(1).replace(",", "")), match.group(2)
            if "PROGRAM TOTALS" in what:
                total = ir
            elif "sha256::compress256" in what or "sha256::soft" in what:
                hashing += ir
        return total - hashing if exclude_sha else total


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--binary", type=Path, help="a built benches/instructions.rs")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument(
        "--with-sha",
        dest="exclude_sha",
        action="store_false",
        help="count SHA-256 compression too (valgrind runs the portable code, not SHA-NI)",
    )
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()
    binary = args.binary or build()
    cases = (
        args.cases
        or subprocess.run(  # noqa: S603
            [str(binary)], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    print("| case | instructions per call |")
    print("|---|---:|")
    for case in cases:
        group, _, size = case.partition("/")
        heavy = group in ("sign", "verify_allows") and size.isdigit() and int(size) >= 100
        n = args.iterations // 10 if heavy else args.iterations
        low = count(binary, case, n, exclude_sha=args.exclude_sha)
        high = count(binary, case, 2 * n, exclude_sha=args.exclude_sha)
        print(f"| {case} | {(high - low) / n:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
