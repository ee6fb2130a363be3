"""Entry point of the `opbox` command."""

from __future__ import annotations

import argparse
import logging
import sys

from opbox_cli.admin_commands import add_admin_commands
from opbox_cli.commands import run_emulator, run_init, run_serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opbox", description="Opbox Pipelines: sync external accounts into Opbox tables.")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="migrate the app database and create an organisation, workspace and owner")
    init.add_argument("--organisation", default="My organisation", help="organisation name")
    init.add_argument("--workspace", default="Main", help="first workspace name")
    init.add_argument("--email", default="owner@example.com", help="owner's email address")
    init.add_argument("--json", action="store_true", help='print {"apiKey","organisationId","workspaceId"} as JSON')
    init.set_defaults(handler=run_init)

    serve = commands.add_parser("serve", help="run the gateway, the Dagster webserver and the daemon until Ctrl-C")
    serve.add_argument("--port", type=int, default=8000, help="gateway port on 127.0.0.1 (default: %(default)s)")
    serve.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port on 127.0.0.1; 0 picks a free one (default: %(default)s)")
    serve.set_defaults(handler=run_serve)

    emulator = commands.add_parser("emulator", help="run a local provider emulator")
    providers = emulator.add_subparsers(dest="provider", required=True)
    crm = providers.add_parser("crm", help="HubSpot CRM v3 emulator for CRM_PLATFORM connections")
    crm.add_argument("--port", type=int, default=8899, help="port on 127.0.0.1 (default: %(default)s)")
    crm.add_argument("--token", default="demo-token", help="bearer token clients must send (default: %(default)s)")
    crm.add_argument("--contacts", type=int, default=500, help="seeded contacts (default: %(default)s)")
    crm.add_argument("--companies", type=int, default=100, help="seeded companies (default: %(default)s)")
    crm.add_argument("--deals", type=int, default=200, help="seeded deals (default: %(default)s)")
    crm.set_defaults(handler=run_emulator)

    demo = commands.add_parser("demo", help="sync the CRM emulator into DuckDB end to end and print the tables")
    demo.add_argument("--contacts", type=int, default=2000, help="seeded contacts (default: %(default)s)")
    demo.add_argument("--keep-running", action="store_true", help="leave the gateway and Dagster running until Ctrl-C")
    demo.set_defaults(handler=_run_demo)

    add_admin_commands(commands)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from opbox_cli.demo import run_demo

    return run_demo(args)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
