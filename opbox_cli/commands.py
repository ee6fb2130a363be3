"""The `opbox init`, `opbox serve` and `opbox emulator` commands."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from opbox_cli.gateway_server import build_server
from opbox_cli.ports import free_port
from opbox_cli.services import DagsterServices
from resources.app_db.session import migrate, session_scope
from resources.dagster_instance import prepare_dagster_home
from resources.services.identity import bootstrap_owner
from resources.settings import load_settings
from resources.vault import load_vault

logger = logging.getLogger(__name__)


def run_init(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate(settings.database_url)
    prepare_dagster_home(settings)
    load_vault(settings)
    with session_scope(settings.database_url) as session:
        created = bootstrap_owner(
            session, organisation_name=args.organisation, workspace_name=args.workspace, email=args.email
        )
    if args.json:
        print(json.dumps({"apiKey": created.api_key, "organisationId": created.organisation_id, "workspaceId": created.workspace_id}))
        return 0
    print(f"Organisation {args.organisation!r} ({created.organisation_id}) and workspace {args.workspace!r} ({created.workspace_id}) created.")
    print(f"Owner {args.email} API key (shown once, store it now): {created.api_key}")
    print(f"Data folder: {settings.home}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate(settings.database_url)
    services = DagsterServices(settings, code_server_port=free_port(), webserver_port=args.dagster_port or free_port())
    try:
        services.start()
        gateway_settings = dataclasses.replace(settings, dagster_url=services.webserver_url)
        server = build_server(gateway_settings, args.port)
        print(f"Opbox gateway:  http://127.0.0.1:{args.port}/api/health", flush=True)
        print(f"Dagster UI:     {services.webserver_url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()
    return 0


def run_emulator(args: argparse.Namespace) -> int:
    from connectors.emulators.hubspot.__main__ import main as hubspot_main

    argv = ["--port", str(args.port), "--host", "127.0.0.1", "--token", args.token,
            "--contacts", str(args.contacts), "--companies", str(args.companies), "--deals", str(args.deals)]
    return hubspot_main(argv)
