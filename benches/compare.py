"""Side-by-side timings of sock8 and its peers, as one table of medians and ratios.

Run it with `make bench` (which installs the peers first) or `.venv/bin/python benches/compare.py`.

Every case is a statement timed in a compiled loop (`timeit`, with `time.perf_counter_ns` and the
garbage collector off) whose names are locals, so all cases pay the same few-ns loop overhead.
Cases run in interleaved rounds, in a new random order each round, so that a noisy neighbour or a
frequency change hits every case alike; a case's time is the median over rounds, and a ratio is
the median over rounds of the two cases' per-round ratio.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
import sock8

SIGN_N = (1, 10, 100)
VERIFY_N = (1, 10, 100)
ALLOWS_N = (1, 100, 10_000)
GROWTH_TOKEN_N = (1, 10, 100, 1_000)
GROWTH_GRANTS_N = (1, 10, 100, 1_000, 10_000)
PEER_COLUMNS = ("pyjwt", "pyjwt-rs", "joserfc", "gehirn", "stdlib")
BASELINE = "stdlib"  # the column that holds the plain-Python baseline of each row
WIRE_ID = "chat.r%201##roomId.messages"


@dataclass
class Case:
    """One statement to time, with the local names it uses."""

    key: tuple[str, str]  # (row, column)
    stmt: str
    names: dict[str, object]
    number: int = 0
    samples: list[float] = field(default_factory=list)  # ns per call, one per round

    def timer(self) -> timeit.Timer:
        setup = "; ".join(f"{name} = _names[{name!r}]" for name in self.names) or "pass"
        return timeit.Timer(
            self.stmt, setup, timer=time.perf_counter_ns, globals={"_names": self.names}
        )

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


class Bench:
    def __init__(self) -> None:
        self.cases: dict[tuple[str, str], Case] = {}
        self.rows: list[tuple[str, str]] = []  # (group, row) in display order

    def add(self, group: str, row: str, column: str, stmt: str, **names: object) -> None:
        if (group, row) not in self.rows:
            self.rows.append((group, row))
        self.cases[row, column] = Case((row, column), stmt, names)

    def run(self, rounds: int, block_ns: int, seed: int) -> None:
        timers = {key: case.timer() for key, case in self.cases.items()}
        for key, case in self.cases.items():  # calibrate: the smallest power of 2 filling a block
            number = 1
            while timers[key].timeit(number) < block_ns and number < 1 << 24:
                number *= 2
            case.number = number
        order = list(self.cases)
        rng = random.Random(seed)
        for _ in range(rounds):
            rng.shuffle(order)
            for key in order:
                case = self.cases[key]
                case.samples.append(timers[key].timeit(case.number) / case.number)

    def get(self, row: str, column: str) -> Case | None:
        return self.cases.get((row, column))

    def ratio(self, row: str, slow: str, fast: str) -> tuple[float, float, float] | None:
        """Median and quartiles of the per-round ratio slow/fast."""
        a, b = self.get(row, slow), self.get(row, fast)
        if a is None or b is None:
            return None
        ratios = sorted(x / y for x, y in zip(a.samples, b.samples, strict=True))
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        return statistics.median(ratios), q[0], q[2]


def fmt_ns(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1_000:.2f} µs" if ns < 10_000 else f"{ns / 1_000:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def sizes(growth: bool) -> tuple[list[int], list[int]]:
    """Channel counts of the verify rows and grant counts of the allows rows."""
    verify_n = sorted(set(VERIFY_N) | (set(GROWTH_TOKEN_N) if growth else set()))
    allows_n = sorted(set(ALLOWS_N) | (set(GROWTH_GRANTS_N) if growth else set()))
    return verify_n, allows_n


def add_sock8(bench: Bench, impl: Any, column: str, growth: bool) -> None:
    """The sock8 cases, for `impl`: the `sock8` package, or another build's `_core` module."""
    signer = impl.Signer(_peers.SECRET, audience=_peers.AUDIENCE, ttl=_peers.TTL)
    verifier = impl.Verifier(_peers.SECRET, audience=_peers.AUDIENCE)
    verify_n, allows_n = sizes(growth)
    for n in SIGN_N:
        channels = _peers.channel_ids(n)
        bench.add("sign", f"sign, {plural(n, 'channel')}", column, "sign(identity, channels)",
                  sign=signer.sign, identity=_peers.IDENTITY, channels=list(channels))  # fmt: skip
    for n in verify_n:
        channels = _peers.channel_ids(n)
        token = signer.sign(_peers.IDENTITY, channels)
        channel = fresh(_peers.probe(channels))
        assert verifier.verify(token).allows(channel)
        bench.add("verify", f"verify + allows, {plural(n, 'channel')}", column,
                  "verify(token).allows(channel)",
                  verify=verifier.verify, token=token, channel=channel)  # fmt: skip
    for n in allows_n:
        channels = _peers.channel_ids(n)
        grants = verifier.verify(signer.sign(_peers.IDENTITY, channels))
        channel = fresh(_peers.probe(channels))
        assert grants.allows(channel)
        bench.add("allows", f"allows, {plural(n, 'grant')}", column, "allows(channel)",
                  allows=grants.allows, channel=channel)  # fmt: skip
    values = {"roomId": "r 1"}
    bench.add("channel", "channel id: render", column, "render(values)",
              render=impl.ChannelTemplate(_peers.TEMPLATE).render, values=values)  # fmt: skip
    bench.add("channel", "channel id: parse", column, "parse(wire_id)",
              parse=impl.parse_channel, wire_id=WIRE_ID)  # fmt: skip


def build(bench: Bench, peers: dict[str, _peers.Peer], growth: bool) -> None:
    add_sock8(bench, sock8, "sock8", growth)
    verify_n, allows_n = sizes(growth)

    for n in SIGN_N:
        row = f"sign, {plural(n, 'channel')}"
        claims = _peers.claims_for(_peers.channel_ids(n))
        for name in PEER_COLUMNS:
            p = peers[name]
            if p.sign is not None:
                bench.add("sign", row, name, "sign(claims)", sign=p.sign, claims=claims)

    for n in verify_n:
        row = f"verify + allows, {plural(n, 'channel')}"
        channels = _peers.channel_ids(n)
        token, channel = _peers.token_for(channels), fresh(_peers.probe(channels))
        columns = PEER_COLUMNS if n in VERIFY_N else ("pyjwt", "stdlib")
        for name in columns:
            p = peers[name]
            if p.verify_allows is not None:
                assert p.verify_allows(token, channel), name
                bench.add("verify", row, name, "verify_allows(token, channel)",
                          verify_allows=p.verify_allows, token=token, channel=channel)  # fmt: skip

    for n in allows_n:
        channels = _peers.channel_ids(n)
        s = frozenset(channels)
        channel = fresh(_peers.probe(channels))
        assert channel in s
        bench.add("allows", f"allows, {plural(n, 'grant')}", BASELINE, "contains(channel)",
                  contains=s.__contains__, channel=channel)  # fmt: skip

    ref = _peers.reference()
    if ref is not None:
        values = {"roomId": "r 1"}
        ref_template = ref.ChannelTemplate(_peers.TEMPLATE)
        assert ref_template.render(values) == WIRE_ID
        assert ref.parse_channel(WIRE_ID) == sock8.parse_channel(WIRE_ID)
        bench.add("channel", "channel id: render", BASELINE, "render(values)",
                  render=ref_template.render, values=values)  # fmt: skip
        bench.add("channel", "channel id: parse", BASELINE, "parse(wire_id)",
                  parse=ref.parse_channel, wire_id=WIRE_ID)  # fmt: skip

    bench.add("loop", "empty loop (overhead in every cell)", "sock8", "pass")


def load_core(path: Path) -> ModuleType:
    """Another build's `sock8._core` extension (for before/after), loaded beside the current one."""
    loader = importlib.machinery.ExtensionFileLoader("sock8_before._core", str(path))
    spec = importlib.util.spec_from_loader("sock8_before._core", loader)
    if spec is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def before_after(bench: Bench) -> list[str]:
    out = ["| case | before | after | speedup |", "|---|---:|---:|---:|"]
    for _, row in bench.rows:
        a, b, r = (
            bench.get(row, "before"),
            bench.get(row, "sock8"),
            bench.ratio(row, "before", "sock8"),
        )
        if a and b and r:
            out.append(f"| {row} | {fmt_ns(a.median)} | {fmt_ns(b.median)} | {fmt_ratio(r[0])} |")
    return out


def fresh(s: str) -> str:
    """An equal string that is a different object, as a channel read off the network is."""
    return "".join(list(s))


def check_interop(peers: dict[str, _peers.Peer]) -> None:
    """Peers' tokens verify with sock8 and sock8's with every peer, before anything is timed."""
    verifier = _peers.verifier()
    channels = _peers.channel_ids(10)
    token, channel = _peers.token_for(channels), _peers.probe(channels)
    for name, p in peers.items():
        if p.sign is not None:
            assert verifier.verify(p.sign(_peers.claims_for(channels))).allows(channel), name
        if p.verify_allows is not None:
            assert p.verify_allows(token, channel), name


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = "rustc ?"
    if exe := shutil.which("rustc"):
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False)  # noqa: S603
        rustc = out.stdout.strip() or rustc
    py = (
        f"CPython {platform.python_version()}"
        if sys.implementation.name == "cpython"
        else sys.version
    )
    return f"{cpu}, {os.cpu_count()} cores · {py} · {rustc} · sock8 {sock8.__version__}"


COLUMN_LABELS = {
    "sock8": "sock8",
    "pyjwt": "PyJWT",
    "pyjwt-rs": "pyjwt-rs",
    "joserfc": "joserfc",
    "gehirn": "jwt (GehirnInc)",
    "stdlib": "Python baseline¹",
}


def table(bench: Bench, groups: Iterable[str], rows_n: dict[str, tuple[int, ...]]) -> list[str]:
    columns = ["sock8", *PEER_COLUMNS]
    out = [
        "| case | " + " | ".join(COLUMN_LABELS[c] for c in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for group, row in bench.rows:
        if group not in groups or not shown(row, rows_n.get(group)):
            continue
        cells = []
        for column in columns:
            case = bench.get(row, column)
            if case is None:
                cells.append("—")
            elif column == "sock8":
                cells.append(f"**{fmt_ns(case.median)}**")
            elif group == "allows":  # sock8 is the slower one here: show sock8 ÷ frozenset
                r = bench.ratio(row, "sock8", column)
                cells.append(f"{fmt_ns(case.median)} (sock8 {fmt_ratio(r[0])} of it)" if r else "—")
            else:
                r = bench.ratio(row, column, "sock8")
                cells.append(f"{fmt_ns(case.median)} ({fmt_ratio(r[0])})" if r else "—")
        out.append(f"| {row} | " + " | ".join(cells) + " |")
    return out


def shown(row: str, ns: tuple[int, ...] | None) -> bool:
    if ns is None:
        return True
    count = int(row.rsplit(", ", 1)[1].split(" ")[0].replace(",", ""))
    return count in ns


def targets(bench: Bench) -> list[str]:
    out = [
        "| target | measured: median [quartiles] of per-round ratios | met |",
        "|---|---|---|",
    ]

    def line(what: str, row: str, slow: str, fast: str, ok: str, need: float) -> None:
        r = bench.ratio(row, slow, fast)
        if r is None:
            out.append(f"| {what} | not measured ({slow} missing) | — |")
            return
        met = r[0] >= need if ok == ">=" else r[0] <= need
        spread = f"{fmt_ratio(r[1])}-{fmt_ratio(r[2])}"
        out.append(f"| {what} | {fmt_ratio(r[0])} [{spread}] | {'yes' if met else '**no**'} |")

    line(
        "verify+allows ≥ 30x PyJWT, 1 channel",
        "verify + allows, 1 channel",
        "pyjwt",
        "sock8",
        ">=",
        30,
    )
    line(
        "verify+allows ≥ 50x PyJWT, 100 channels",
        "verify + allows, 100 channels",
        "pyjwt",
        "sock8",
        ">=",
        50,
    )
    for n in VERIFY_N:
        row = f"verify + allows, {plural(n, 'channel')}"
        line(f"verify+allows ≥ 5x stdlib, {plural(n, 'channel')}", row, "stdlib", "sock8", ">=", 5)
    for n in SIGN_N:
        line(
            f"sign ≥ 15x PyJWT, {plural(n, 'channel')}",
            f"sign, {plural(n, 'channel')}",
            "pyjwt",
            "sock8",
            ">=",
            15,
        )
    for n in ALLOWS_N:
        row = f"allows, {plural(n, 'grant')}"
        line(
            f"allows ≤ 2.5x frozenset.__contains__, {plural(n, 'grant')}",
            row,
            "sock8",
            BASELINE,
            "<=",
            2.5,
        )
    medians = [
        c.median
        for (row, col), c in bench.cases.items()
        if col == "sock8" and row.startswith("allows")
    ]
    if medians:
        spread = max(medians) / min(medians)
        flat = "yes" if spread <= 1.25 else "**no**"
        what = "allows flat from 1 to 10,000 grants (max ÷ min median)"
        out.append(f"| {what} | {fmt_ratio(spread)} | {flat} |")
    return out


def growth(bench: Bench) -> list[str]:
    out = ["Token size (verify + allows; ratio = time ÷ sock8's time):", ""]
    out += ["| channels | sock8 | PyJWT | stdlib Python |", "|---:|---:|---:|---:|"]
    for n in GROWTH_TOKEN_N:
        row = f"verify + allows, {plural(n, 'channel')}"
        cells = []
        for column in ("sock8", "pyjwt", "stdlib"):
            case = bench.get(row, column)
            r = bench.ratio(row, column, "sock8")
            if case is None:
                cells.append("—")
            else:
                cells.append(
                    fmt_ns(case.median)
                    + (f" ({fmt_ratio(r[0])})" if r and column != "sock8" else "")
                )
        out.append(f"| {n:,} | " + " | ".join(cells) + " |")
    out += ["", "Grant count (`allows` of a granted id):", ""]
    out += [
        "| grants | sock8 `grants.allows` | `frozenset.__contains__` | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for n in GROWTH_GRANTS_N:
        row = f"allows, {plural(n, 'grant')}"
        a, b, r = (
            bench.get(row, "sock8"),
            bench.get(row, BASELINE),
            bench.ratio(row, "sock8", BASELINE),
        )
        if a and b and r:
            out.append(f"| {n:,} | {fmt_ns(a.median)} | {fmt_ns(b.median)} | {fmt_ratio(r[0])} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (default 21)")
    parser.add_argument("--block-ms", type=float, default=4.0, help="time per case per round")
    parser.add_argument("--seed", type=int, default=8, help="seed of the round order")
    parser.add_argument("--no-growth", action="store_true", help="skip the growth tables")
    parser.add_argument("--quick", action="store_true", help="3 short rounds: a smoke run")
    parser.add_argument(
        "-k", dest="only", default="", help="only the rows whose name contains this"
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="SO",
        help="another build's _core*.so: adds a before/after table, measured side by side",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.block_ms = 3, 0.5

    peers = {name: _peers.peer(name) for name in PEER_COLUMNS}
    check_interop(peers)
    bench = Bench()
    build(bench, peers, growth=not args.no_growth)
    if args.before is not None:
        add_sock8(bench, load_core(args.before), "before", growth=not args.no_growth)
    if args.only:
        bench.cases = {k: c for k, c in bench.cases.items() if args.only in k[0]}
    started = time.monotonic()
    bench.run(args.rounds, int(args.block_ms * 1e6), args.seed)
    elapsed = time.monotonic() - started

    print(f"Machine: {machine()}")
    versions = ", ".join(f"{p.label} {p.version}" for p in peers.values() if p.missing is None)
    print(f"Peers: {versions}")
    print(f"{args.rounds} interleaved rounds, {len(bench.cases)} cases, {elapsed:.0f} s\n")
    print(
        "Medians per call; (Nx) = that library's time ÷ sock8's time (median of per-round ratios)."
    )
    print()
    print("\n".join(table(bench, ("sign", "verify", "allows", "channel"),
                          {"verify": VERIFY_N, "allows": ALLOWS_N})))  # fmt: skip
    loop = bench.get("empty loop (overhead in every cell)", "sock8")
    print()
    print(
        "¹ Python baseline: sign/verify rows, hand-written `hmac` (key pads computed once) + "
        "`binascii` + orjson, checking signature, exp, aud and the channel in a frozenset; "
        "allows rows, `frozenset.__contains__`; channel rows, the pure-Python reference "
        "(tests/core/reference.py). Peers sign a prepared claims dict; sock8's `sign` also "
        "validates, sorts and de-duplicates the channels, reads the clock and draws a random jti."
    )
    if loop is not None:
        print(f"Every cell includes the timing loop's own {fmt_ns(loop.median)} per call.")
    missing = [f"{p.label}: {p.missing}" for p in peers.values() if p.missing]
    for line in missing:
        print(f"Not measured: {line}")
    print("\n" + "\n".join(targets(bench)))
    if not args.no_growth:
        print("\n" + "\n".join(growth(bench)))
    if args.before is not None:
        print(f"\nBefore ({args.before}) and after, side by side:\n")
        print("\n".join(before_after(bench)))


if __name__ == "__main__":
    main()
