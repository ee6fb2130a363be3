"""The CRM_PLATFORM connector against the HubSpot emulator over real HTTP."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from connectors.base import StreamRead
from connectors.crm_platform import CrmPlatformConnector
from connectors.crm_platform import connector as connector_module
from connectors.emulators.hubspot.dataset import HubSpotDataset
from connectors.emulators.hubspot.server import HubSpotEmulator, start_hubspot_emulator
from connectors.errors import CredentialsRejected, PaginationError, ProviderError
from connectors.http import build_rest_client

TOKEN = "pat-test-token-1234"


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with start_hubspot_emulator(TOKEN, dataset=HubSpotDataset(contacts=450, companies=30, deals=60)) as running:
        yield running


def fast_retry_connector(base_url: str, token: str = TOKEN) -> CrmPlatformConnector:
    """A connector whose client backs off 0.05 s instead of 1 s, so retry tests stay quick."""
    connector = CrmPlatformConnector({"apiKey": token}, {"baseUrl": base_url})
    connector._client = build_rest_client(
        base_url, connector_module.BearerTokenAuth(token), secrets=(token,), max_attempts=3, backoff_factor_seconds=0.05
    )
    return connector


def read_all(connector: CrmPlatformConnector, stream: str, start: datetime | None = None) -> pa.Table:
    spec = connector.stream_spec(stream)
    schema = connector.discover_stream(spec)
    tables = list(connector.read(StreamRead(spec, start), schema))
    return pa.concat_tables(tables) if tables else pa.table({})


def test_full_refresh_pages_every_record_once(emulator: HubSpotEmulator) -> None:
    table = read_all(fast_retry_connector(emulator.base_url), "contacts")

    ids = table.column("id").to_pylist()
    assert len(ids) == 450
    assert len(set(ids)) == 450
    list_requests = [item for item in emulator.requests() if item["path"] == "/crm/v3/objects/contacts"]
    assert len(list_requests) == 5


def test_values_are_typed_from_properties_api(emulator: HubSpotEmulator) -> None:
    table = read_all(fast_retry_connector(emulator.base_url), "deals")

    assert table.schema.field("amount").type == pa.decimal128(38, 9)
    assert table.schema.field("hs_lastmodifieddate").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("createdate").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("id").type == pa.string()


def test_search_reads_from_cursor_inclusive(emulator: HubSpotEmulator) -> None:
    connector = fast_retry_connector(emulator.base_url)
    everything = read_all(connector, "contacts")
    cursor_values = sorted(everything.column("lastmodifieddate").to_pylist())
    start = cursor_values[400]

    table = read_all(connector, "contacts", start)

    expected = sum(1 for value in cursor_values if value >= start)
    assert table.num_rows == expected
    assert min(table.column("lastmodifieddate").to_pylist()) == start
    assert any(item["path"].endswith("/search") for item in emulator.requests())


def test_search_restarts_at_result_cap() -> None:
    dataset = HubSpotDataset(contacts=10_250, companies=1, deals=1)
    with start_hubspot_emulator(TOKEN, dataset=dataset) as running:
        connector = fast_retry_connector(running.base_url)
        start = datetime(2000, 1, 1, tzinfo=timezone.utc)

        table = read_all(connector, "contacts", start)

        ids = set(table.column("id").to_pylist())
        assert len(ids) == 10_250
        search_bodies = [item for item in running.requests() if item["path"].endswith("/search")]
        assert len(search_bodies) > 10_000 // 200
        assert not any(item["status"] == 400 for item in running.requests())


def test_rate_limited_request_is_retried(emulator: HubSpotEmulator) -> None:
    emulator.add_fault(
        "/crm/v3/objects/companies",
        status=429,
        body={"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"},
        times=1,
    )

    table = read_all(fast_retry_connector(emulator.base_url), "companies")

    assert table.num_rows == 30
    statuses = [item["status"] for item in emulator.requests() if item["path"] == "/crm/v3/objects/companies"]
    assert statuses[:2] == [429, 200]


def test_server_errors_fail_after_bounded_retries(emulator: HubSpotEmulator) -> None:
    emulator.add_fault("/crm/v3/objects/companies", status=503, body={"message": "upstream down"}, times=None)

    with pytest.raises(ProviderError, match="HTTP 503") as raised:
        read_all(fast_retry_connector(emulator.base_url), "companies")

    attempts = [item for item in emulator.requests() if item["path"] == "/crm/v3/objects/companies"]
    assert len(attempts) == 3
    assert "kept failing" in str(raised.value)


def test_wrong_token_is_credentials_rejected(emulator: HubSpotEmulator) -> None:
    connector = fast_retry_connector(emulator.base_url, token="pat-wrong-token-999")

    with pytest.raises(CredentialsRejected, match="HTTP 401") as raised:
        connector.test_credentials()

    assert "pat-wrong-token-999" not in str(raised.value)


def test_forbidden_token_is_credentials_rejected() -> None:
    with start_hubspot_emulator(TOKEN, forbidden_tokens=["pat-no-scopes"]) as running:
        connector = fast_retry_connector(running.base_url, token="pat-no-scopes")

        with pytest.raises(CredentialsRejected, match="HTTP 403"):
            connector.test_credentials()


def test_echoed_token_is_masked_in_errors(emulator: HubSpotEmulator) -> None:
    emulator.add_fault("/crm/v3/objects/deals", status=400, body={"message": f"bad token {TOKEN} in request"}, times=None)

    with pytest.raises(ProviderError) as raised:
        read_all(fast_retry_connector(emulator.base_url), "deals")

    assert TOKEN not in str(raised.value)
    assert "****" in str(raised.value)


def test_repeated_page_token_stops_with_error(emulator: HubSpotEmulator) -> None:
    emulator.add_fault("/crm/v3/objects/contacts", method="GET", repeat_after=True, times=None)

    with pytest.raises(PaginationError, match="'contacts'"):
        read_all(fast_retry_connector(emulator.base_url), "contacts")


def test_error_object_in_success_answer_fails(emulator: HubSpotEmulator) -> None:
    emulator.add_fault(
        "/crm/v3/objects/companies", status=200, body={"status": "error", "message": "internal search failure"}, times=1
    )

    with pytest.raises(ProviderError, match="internal search failure"):
        read_all(fast_retry_connector(emulator.base_url), "companies")


@pytest.mark.parametrize(
    ("retry_after", "minimum_gap_seconds"),
    [
        pytest.param(lambda: "2", 2.0, id="seconds"),
        # An HTTP date has one-second resolution, so the wait may be up to a second shorter.
        pytest.param(lambda: email.utils.formatdate(time.time() + 2, usegmt=True), 1.0, id="http-date"),
    ],
)
def test_retry_after_is_honoured(
    emulator: HubSpotEmulator, retry_after: Callable[[], str], minimum_gap_seconds: float
) -> None:
    emulator.add_fault(
        "/crm/v3/objects/companies",
        status=429,
        body={"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"},
        headers={"Retry-After": retry_after()},
        times=1,
    )

    table = read_all(fast_retry_connector(emulator.base_url), "companies")

    assert table.num_rows == 30
    attempts = [item for item in emulator.requests() if item["path"] == "/crm/v3/objects/companies"]
    assert [item["status"] for item in attempts[:2]] == [429, 200]
    assert len(attempts) == 2
    assert attempts[1]["at"] - attempts[0]["at"] >= minimum_gap_seconds
    assert attempts[1]["at"] - attempts[0]["at"] < 5.0


def test_search_pages_through_shared_timestamp(emulator: HubSpotEmulator) -> None:
    shared = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
    for record_id in range(1, 451):
        emulator.dataset.upsert("contacts", record_id, {"lastname": "same time"}, shared if record_id <= 300 else None)
    connector = fast_retry_connector(emulator.base_url)

    table = read_all(connector, "contacts", datetime(2026, 1, 1, tzinfo=timezone.utc))

    assert set(table.column("id").to_pylist()) == {str(number) for number in range(1, 451)}
    assert any(item.get("body", {}).get("filterGroups", [{}])[0]["filters"][0]["operator"] == "EQ" for item in emulator.requests() if item["path"].endswith("/search"))


def test_search_misses_nothing_when_records_move(emulator: HubSpotEmulator) -> None:
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    # The second search page waits while a record from the first page changes and moves to the end.
    emulator.add_fault("/crm/v3/objects/contacts/search", method="POST", delay_seconds=1.0, after_requests=1, times=1)
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    timer = threading.Timer(0.5, lambda: emulator.dataset.upsert("contacts", 3, {"firstname": "moved"}, later))
    timer.start()

    table = read_all(fast_retry_connector(emulator.base_url), "contacts", start)
    timer.join()

    ids = set(table.column("id").to_pylist())
    assert ids == {str(number) for number in range(1, 451)}
    moved = [row for row in table.to_pylist() if row["id"] == "3"]
    assert moved[-1]["firstname"] == "moved"
