"""Run the HubSpot emulator in the foreground: ``python -m connectors.emulators.hubspot``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from .dataset import HubSpotDataset
from .server import start_hubspot_emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.emulators.hubspot",
        description="Serve a local emulator of HubSpot's CRM v3 API with seeded contacts, companies and deals.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8899, help="TCP port to listen on, or 0 for a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--token", default="demo-token", help="bearer token that API requests must send (default: %(default)s)"
    )
    parser.add_argument("--contacts", type=int, default=500, help="number of seeded contacts (default: %(default)s)")
    parser.add_argument("--companies", type=int, default=100, help="number of seeded companies (default: %(default)s)")
    parser.add_argument("--deals", type=int, default=200, help="number of seeded deals (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated records (default: %(default)s)")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="maximum API requests per second before responding with 429, or 0 for no limit (default: %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request at DEBUG level")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM. Returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        dataset = HubSpotDataset(contacts=args.contacts, companies=args.companies, deals=args.deals, seed=args.seed)
        emulator = start_hubspot_emulator(
            args.token, host=args.host, port=args.port, dataset=dataset, rate_limit_per_second=args.rate_limit
        )
    except (OSError, ValueError) as error:
        print(f"error: cannot start the HubSpot emulator on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
    print(f"HubSpot emulator serving on {emulator.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while not stop_requested.wait(timeout=0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
