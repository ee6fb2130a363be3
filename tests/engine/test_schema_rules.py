"""Schema evolution, types, variants and full resyncs in the sync engine, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connectors.emulators.hubspot import PropertySpec
from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.services.cursors import apply_cursor_reset
from resources.services.variants import VariantInput, create_variant
from resources.vault import load_vault
from tests.engine.harness import Engine

TOKEN = "pat-schema-token-31"
T1 = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc)
EXTRA = {
    "deals": [
        PropertySpec("score", "Score", "number"),
        PropertySpec("external_id", "External id", "number"),
        # dlt's snake_case turns a double underscore into one, so both become sales_region.
        PropertySpec("sales__region", "Sales region (legacy)", "string"),
        PropertySpec("sales_region", "Sales region", "string"),
    ]
}


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    dataset = HubSpotDataset(contacts=0, companies=0, deals=0, extra_properties=EXTRA)
    with start_hubspot_emulator(TOKEN, dataset=dataset) as running:
        yield running


def test_money_is_stored_exactly(engine: Engine, emulator: HubSpotEmulator) -> None:
    for amount in ("34.7", "0.1", "19.99"):
        emulator.dataset.upsert("deals", None, {"dealname": f"deal {amount}", "amount": amount}, T1)
    connection = engine.create_connection("Money CRM", emulator.base_url, TOKEN)

    run = engine.sync(connection, ["deals"])

    assert run.status == "COMPLETED", run.error
    amounts = [row[0] for row in engine.query("SELECT amount FROM {table} ORDER BY dealname", "Money CRM", "deals")]
    assert amounts == [Decimal("0.1"), Decimal("19.99"), Decimal("34.7")]
    assert all(isinstance(value, Decimal) for value in amounts)
    assert engine.columns("Money CRM", "deals")["amount"].startswith(("DECIMAL(38,9)", "NUMERIC"))


def test_widening_values_stay_readable(engine: Engine, emulator: HubSpotEmulator) -> None:
    dataset = emulator.dataset
    deal = dataset.upsert("deals", None, {"dealname": "widening", "score": "5", "external_id": "1"}, T1)
    connection = engine.create_connection("Widen CRM", emulator.base_url, TOKEN)
    assert engine.sync(connection, ["deals"]).status == "COMPLETED"
    # An admin turns external_id into text, as HubSpot allows; score gets a fraction.
    dataset.redefine_property("deals", "external_id", "string")
    other = dataset.upsert("deals", None, {"dealname": "text id", "score": "3.7", "external_id": "A-1"}, T2)

    run = engine.sync(connection, ["deals"])

    assert run.status == "COMPLETED", run.error
    rows = engine.query("SELECT id, score, external_id, external_id__v_text FROM {table} ORDER BY id", "Widen CRM", "deals")
    # The first deal sits on the saved cursor, so it is read again: from now on as text.
    assert rows == [(str(deal), Decimal("5"), None, "1"), (str(other), Decimal("3.7"), None, "A-1")]
    columns = engine.columns("Widen CRM", "deals")
    assert columns["external_id"].startswith(("DECIMAL", "NUMERIC"))
    assert columns["external_id__v_text"] in {"VARCHAR", "TEXT", "CHARACTER VARYING"}


def test_colliding_field_names_keep_both(engine: Engine, emulator: HubSpotEmulator) -> None:
    emulator.dataset.upsert("deals", None, {"dealname": "regions", "sales__region": "EMEA", "sales_region": "emea-west"}, T1)
    connection = engine.create_connection("Collide CRM", emulator.base_url, TOKEN)

    run = engine.sync(connection, ["deals"])

    assert run.status == "COMPLETED", run.error
    assert engine.query("SELECT sales_region, sales_region_2 FROM {table}", "Collide CRM", "deals") == [("EMEA", "emea-west")]


def test_out_of_range_timestamp_is_nulled_with_warning(engine: Engine, emulator: HubSpotEmulator) -> None:
    deal = emulator.dataset.upsert("deals", None, {"dealname": "far future"}, T1)
    emulator.add_fault(
        "/crm/v3/objects/deals",
        method="GET",
        status=200,
        body={
            "results": [
                {
                    "id": str(deal),
                    "properties": {"dealname": "far future", "closedate": "10000-01-01T00:00:00.000Z", "hs_lastmodifieddate": "2026-04-01T09:00:00.000Z"},
                    "createdAt": "2026-04-01T09:00:00.000Z",
                    "updatedAt": "2026-04-01T09:00:00.000Z",
                    "archived": False,
                }
            ]
        },
        times=1,
    )
    connection = engine.create_connection("Range CRM", emulator.base_url, TOKEN)

    run = engine.sync(connection, ["deals"])

    assert run.status == "COMPLETED", run.error
    assert run.warnings_count == 1
    rows = engine.query("SELECT closedate, closedate__v_text FROM {table}", "Range CRM", "deals")
    assert rows == [(None, "10000-01-01T00:00:00.000Z")]


def test_variants_share_tables_without_overwriting(engine: Engine, emulator: HubSpotEmulator) -> None:
    deal = emulator.dataset.upsert("deals", None, {"dealname": "same id in both regions"}, T1)
    source = engine.create_connection("Group CRM", emulator.base_url, TOKEN)
    with session_scope(engine.settings.database_url) as session:
        variant = create_variant(
            session, load_vault(engine.settings), engine.settings, session.get(Connection, source), VariantInput(None, "EU", {}), None
        ).id

    assert engine.sync(source, ["deals"]).status == "COMPLETED"
    assert engine.sync(variant, ["deals"]).status == "COMPLETED"

    rows = engine.query("SELECT id, _opbox_connection_id FROM {table} ORDER BY _opbox_connection_id", "Group CRM", "deals")
    assert sorted(rows) == sorted([(str(deal), source), (str(deal), variant)])


def test_variant_with_own_tables_writes_apart(engine: Engine, emulator: HubSpotEmulator) -> None:
    emulator.dataset.upsert("deals", None, {"dealname": "own"}, T1)
    source = engine.create_connection("Split CRM", emulator.base_url, TOKEN)
    with session_scope(engine.settings.database_url) as session:
        variant = create_variant(
            session,
            load_vault(engine.settings),
            engine.settings,
            session.get(Connection, source),
            VariantInput(None, "US", {"createOwnTables": True}),
            None,
        )
        variant_id, variant_slug = variant.id, variant.slug

    assert engine.sync(variant_id, ["deals"]).status == "COMPLETED"

    assert variant_slug == "split_crm_us"
    assert engine.query("SELECT count(*) FROM {table}", "Split CRM (US)", "deals", own_tables=True) == [(1,)]
    assert engine.columns("Split CRM", "deals") == {}


def test_full_resync_after_clearing_cursors(engine: Engine, emulator: HubSpotEmulator) -> None:
    for number in range(3):
        emulator.dataset.upsert("deals", None, {"dealname": f"deal {number}"}, T1)
    connection = engine.create_connection("Resync CRM", emulator.base_url, TOKEN)
    assert engine.sync(connection, ["deals"]).rows_created == 3
    with session_scope(engine.settings.database_url) as session:
        apply_cursor_reset(session, session.get(Connection, connection), "deals", None)
    emulator.add_fault("/crm/v3/objects/deals", method="GET", status=503, body={"message": "down"}, times=None)

    failed = engine.sync(connection, ["deals"])

    assert failed.status == "FAILED"
    assert engine.query("SELECT count(*) FROM {table}", "Resync CRM", "deals") == [(3,)]
    emulator.clear_faults()
    resynced = engine.sync(connection, ["deals"])
    assert resynced.status == "COMPLETED", resynced.error
    assert (resynced.rows_created, resynced.rows_updated) == (0, 0)
    assert resynced.stream_stats["deals"]["rowsUnchanged"] == 3
    assert engine.query("SELECT count(*) FROM {table}", "Resync CRM", "deals") == [(3,)]
