"""`python -m sock8.demo [--redis] [serve [--host H] [--port P]]`: run the scenario (with
`--redis`, across two gateway processes sharing a Redis), or serve the app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from sock8.demo.scenario import run, serve_forever


def main(argv: list[str] | None = None) -> int:
    """Run the scenario (exit status 0 when every expectation held) or serve the app."""
    parser = argparse.ArgumentParser(prog="python -m sock8.demo", description=__doc__)
    parser.add_argument(
        "--redis",
        action="store_true",
        help="run the scenario across two `sock8 gateway --redis` processes sharing a private "
        "redis-server (needs redis-server and sock8[redis])",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the scripted scenario (the default)")
    serve = commands.add_parser("serve", help="keep the demo app running for manual use")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.redis and args.command == "serve":
        parser.error("--redis runs the scenario; serve does not take it")
    if args.command == "serve":
        # uvicorn turns Ctrl-C into a graceful shutdown, then raises it again.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(args.host, args.port))
        return 0
    # The transcript reports the clients' refusals itself; their log lines would repeat it.
    logging.getLogger("sock8.client").setLevel(logging.CRITICAL)
    if args.redis:
        from sock8.demo.cluster import run_cluster

        return 0 if asyncio.run(run_cluster()) else 1
    return 0 if asyncio.run(run()) else 1


if __name__ == "__main__":
    sys.exit(main())
