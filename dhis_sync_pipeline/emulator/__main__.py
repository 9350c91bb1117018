"""`python -m dhis_sync_pipeline.emulator`: run one emulated DHIS2 until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import EmulatorServer
from .state import SUPPORTED_VERSIONS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dhis_sync_pipeline.emulator",
                                     description="Run a DHIS2 Web API emulator.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dhis2-version", default="2.40", choices=SUPPORTED_VERSIONS)
    parser.add_argument("--seed", default="empty", help="empty | generated | <folder of *.json>")
    parser.add_argument("--timezone", default="UTC")
    parser.add_argument("--org-units", type=int, default=200)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--data-elements", type=int, default=100)
    parser.add_argument("--data-sets", type=int, default=3)
    parser.add_argument("--data-values", type=int, default=1000)
    parser.add_argument("--generator-seed", type=int, default=1)
    parser.add_argument("--user", action="append", default=[],
                        help="username:password (repeatable; default admin:district)")
    args = parser.parse_args(argv)
    users = dict(u.split(":", 1) for u in args.user) or {"admin": "district"}
    options = {"org_units": args.org_units, "levels": args.levels,
               "data_elements": args.data_elements, "data_sets": args.data_sets,
               "data_values": args.data_values, "seed": args.generator_seed}
    server = EmulatorServer(version=args.dhis2_version, seed=args.seed, timezone=args.timezone,
                            users=users, host=args.host, port=args.port,
                            generator_options=options)
    server.start()
    print(f"DHIS2 {args.dhis2_version} emulator on {server.base_url} "
          f"(users: {', '.join(users)}); Ctrl+C stops it", flush=True)
    stopping = threading.Event()
    # Handled explicitly: a parent may have started us with SIGINT ignored (background jobs).
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        stopping.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
