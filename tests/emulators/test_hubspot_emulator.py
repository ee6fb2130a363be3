"""Tests of the HubSpot CRM v3 emulator over real HTTP on the loopback interface."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest
import requests

from connectors.emulators.hubspot import (
    HubSpotDataset,
    HubSpotEmulator,
    PropertyExistsError,
    PropertyNotFoundError,
    PropertySpec,
    start_hubspot_emulator,
)
from connectors.emulators.hubspot.__main__ import main as emulator_main
from connectors.emulators.hubspot.generator import SEED_START_MS
from connectors.emulators.hubspot.schema import SCHEMAS

TOKEN = "test-token"
CONTACTS = "/crm/v3/objects/contacts"

StartEmulator = Callable[..., HubSpotEmulator]


@pytest.fixture
def start() -> Iterator[StartEmulator]:
    """Start emulators on free ports and stop them after the test."""
    started: list[HubSpotEmulator] = []

    def start_emulator(**kwargs: Any) -> HubSpotEmulator:
        emulator = start_hubspot_emulator(TOKEN, port=0, **kwargs)
        started.append(emulator)
        return emulator

    yield start_emulator
    for emulator in started:
        emulator.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def search_all(session: requests.Session, url: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Follow paging.next through a search. Returns the results and the number of requests."""
    results: list[dict[str, Any]] = []
    requests_made = 0
    body = dict(body)
    while True:
        response = session.post(url, json=body, timeout=10)
        requests_made += 1
        assert response.status_code == 200, response.text
        payload = response.json()
        results.extend(payload["results"])
        next_page = payload.get("paging", {}).get("next")
        if next_page is None:
            return results, requests_made
        body["after"] = next_page["after"]


def assert_hubspot_error(response: requests.Response, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["message"]
    uuid.UUID(body["correlationId"])
    return body


# Listing


def test_list_pages_through_all_contacts(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=250, companies=10, deals=5))
    url = f"{emulator.base_url}{CONTACTS}"
    params: dict[str, str] = {"limit": "100"}
    ids: list[int] = []
    pages = 0
    while True:
        response = session.get(url, params=params, timeout=10)
        assert response.status_code == 200, response.text
        payload = response.json()
        pages += 1
        ids.extend(int(record["id"]) for record in payload["results"])
        if "paging" not in payload:
            break
        next_page = payload["paging"]["next"]
        assert next_page["link"].startswith(emulator.base_url)
        assert f"after={next_page['after']}" in next_page["link"]
        params["after"] = next_page["after"]

    assert pages == 3
    assert len(ids) == 250
    assert len(set(ids)) == 250
    assert ids == sorted(ids)


def test_list_record_wire_format(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=5))
    response = session.get(f"{emulator.base_url}{CONTACTS}", params={"limit": "1"}, timeout=10)
    record = response.json()["results"][0]

    assert set(record) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert record["id"] == "1"
    assert record["archived"] is False
    datetime.strptime(record["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert record["updatedAt"] == "2026-01-01T00:00:00.000Z"
    assert record["properties"]["hs_object_id"] == "1"
    assert record["properties"]["lastmodifieddate"] == record["updatedAt"]
    assert all(value is None or isinstance(value, str) for value in record["properties"].values())


def test_list_returns_requested_properties(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=20))
    url = f"{emulator.base_url}{CONTACTS}"

    response = session.get(url, params={"properties": "email,num_notes,no_such_property"}, timeout=10)
    assert response.status_code == 200
    for record in response.json()["results"]:
        assert set(record["properties"]) == {"email", "num_notes", "hs_object_id", "createdate", "lastmodifieddate"}

    repeated = session.get(url, params=[("properties", "phone"), ("properties", "hs_is_unworked")], timeout=10)
    assert set(repeated.json()["results"][0]["properties"]) == {
        "phone",
        "hs_is_unworked",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }

    default = session.get(url, timeout=10).json()["results"][0]["properties"]
    assert set(default) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}

    deals = session.get(f"{emulator.base_url}/crm/v3/objects/deals", params={"properties": "amount"}, timeout=10)
    assert set(deals.json()["results"][0]["properties"]) == {
        "amount",
        "hs_object_id",
        "createdate",
        "hs_lastmodifieddate",
    }


def test_list_limit_over_100_rejected(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=150))
    url = f"{emulator.base_url}{CONTACTS}"

    body = assert_hubspot_error(session.get(url, params={"limit": "101"}, timeout=10), 400, "VALIDATION_ERROR")
    assert "100" in body["message"]
    assert_hubspot_error(session.get(url, params={"limit": "0"}, timeout=10), 400, "VALIDATION_ERROR")
    assert_hubspot_error(session.get(url, params={"limit": "ten"}, timeout=10), 400, "VALIDATION_ERROR")
    assert_hubspot_error(session.get(url, params={"after": "not-a-cursor"}, timeout=10), 400, "VALIDATION_ERROR")

    full_page = session.get(url, params={"limit": "100"}, timeout=10)
    assert full_page.status_code == 200
    assert len(full_page.json()["results"]) == 100
    assert len(session.get(url, timeout=10).json()["results"]) == 10


def test_read_single_record(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(companies=3))
    url = f"{emulator.base_url}/crm/v3/objects/companies"

    record = session.get(f"{url}/2", params={"properties": "annualrevenue"}, timeout=10).json()
    assert record["id"] == "2"
    assert "annualrevenue" in record["properties"]
    assert_hubspot_error(session.get(f"{url}/99", timeout=10), 404, "OBJECT_NOT_FOUND")


def test_unknown_object_type_not_found(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()

    listed = session.get(f"{emulator.base_url}/crm/v3/objects/widgets", timeout=10)
    searched = session.post(f"{emulator.base_url}/crm/v3/objects/widgets/search", json={}, timeout=10)

    assert_hubspot_error(listed, 404, "OBJECT_NOT_FOUND")
    assert_hubspot_error(searched, 404, "OBJECT_NOT_FOUND")
    # HubSpot's numeric object type ids name the same types.
    assert session.get(f"{emulator.base_url}/crm/v3/objects/0-1", timeout=10).status_code == 200


# Search


def test_search_gte_lastmodified_ascending_pages(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=300))
    since = iso(SEED_START_MS + 120 * 60_000)
    expected = [record for record in emulator.dataset.records("contacts") if record.updated_at >= since]
    body = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 7,
    }

    first = session.post(f"{emulator.base_url}{CONTACTS}/search", json=body, timeout=10).json()
    results, pages = search_all(session, f"{emulator.base_url}{CONTACTS}/search", body)

    assert first["total"] == len(expected)
    assert first["paging"]["next"]["after"] == "7"
    assert pages == -(-len(expected) // 7)
    assert [int(record["id"]) for record in results] == [record.id for record in expected]
    stamps = [record["properties"]["lastmodifieddate"] for record in results]
    assert stamps == sorted(stamps)
    assert min(stamps) >= since


def test_search_ties_sorted_by_id(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=60))
    body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], "limit": 100}

    results, _ = search_all(session, f"{emulator.base_url}{CONTACTS}/search", body)
    keys = [(record["properties"]["lastmodifieddate"], int(record["id"])) for record in results]

    assert len(results) == 60
    for (stamp, record_id), (next_stamp, next_id) in zip(keys, keys[1:]):
        assert stamp > next_stamp or (stamp == next_stamp and record_id < next_id), (record_id, next_id)
    # Seeded ids 4 and 5 share a timestamp, so they must appear as 4, then 5.
    assert keys.index((keys[-4][0], 4)) + 1 == keys.index((keys[-4][0], 5))


def test_search_caps_results_at_10000(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=10_050, companies=5, deals=0))
    url = f"{emulator.base_url}{CONTACTS}/search"
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(SEED_START_MS)}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": 200,
    }

    results, pages = search_all(session, url, body)
    assert len(results) == 10_000
    assert pages == 50
    assert len({record["id"] for record in results}) == 10_000

    last_page = session.post(url, json={**body, "after": "9800"}, timeout=10).json()
    assert last_page["total"] == 10_050
    assert "paging" not in last_page

    beyond = session.post(url, json={**body, "after": "10000"}, timeout=10)
    assert "10000" in assert_hubspot_error(beyond, 400, "VALIDATION_ERROR")["message"]
    window = session.post(url, json={**body, "after": 9900, "limit": 200}, timeout=10)
    assert_hubspot_error(window, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "value",
    [
        SEED_START_MS + 30 * 60_000,
        str(SEED_START_MS + 30 * 60_000),
        "2026-01-01T00:30:00.000Z",
        "2026-01-01T00:30:00Z",
        "2026-01-01T01:30:00+01:00",
    ],
)
def test_search_datetime_filter_value_forms(start: StartEmulator, session: requests.Session, value: object) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=80))
    body = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "LT", "value": value}]}],
        "limit": 100,
    }

    response = session.post(f"{emulator.base_url}{CONTACTS}/search", json=body, timeout=10)

    assert response.status_code == 200, response.text
    ids = [int(record["id"]) for record in response.json()["results"]]
    # Id 30 shares minute 28 with id 29, and id 31 is the first record modified at 00:30.
    assert ids == list(range(1, 31))


def test_search_filter_groups_are_ored(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=200))
    records = emulator.dataset.records("contacts")
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "num_notes", "operator": "GTE", "value": "10"},
                    {"propertyName": "hs_is_unworked", "operator": "EQ", "value": True},
                ]
            },
            {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
        ],
        "limit": 200,
    }
    expected = [
        record.id
        for record in records
        if (int(record.properties["num_notes"] or 0) >= 10 and record.properties["hs_is_unworked"] == "true")
        or record.properties["lifecyclestage"] == "customer"
    ]

    payload = session.post(f"{emulator.base_url}{CONTACTS}/search", json=body, timeout=10).json()

    assert expected
    assert payload["total"] == len(expected)
    assert [int(record["id"]) for record in payload["results"]] == expected


def test_search_number_filter_compares_numerically(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(deals=150))
    body = {
        "filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": 20000}]}],
        "sorts": ["amount"],
        "properties": ["amount"],
        "limit": 200,
    }

    results = session.post(f"{emulator.base_url}/crm/v3/objects/deals/search", json=body, timeout=10).json()["results"]

    amounts = [float(record["properties"]["amount"]) for record in results]
    expected = [
        record.id
        for record in emulator.dataset.records("deals")
        if record.properties["amount"] is not None and float(record.properties["amount"]) > 20000
    ]
    # A string comparison would also let through amounts such as "9309.04".
    assert len(amounts) == len(expected) > 0
    assert min(amounts) > 20000
    assert amounts == sorted(amounts)


def test_search_rejects_invalid_requests(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()
    url = f"{emulator.base_url}{CONTACTS}/search"

    invalid_json = session.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert_hubspot_error(invalid_json, 400, "VALIDATION_ERROR")
    assert_hubspot_error(session.post(url, json={"limit": 201}, timeout=10), 400, "VALIDATION_ERROR")
    bad_value = {"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GT", "value": "soon"}]}]}
    assert_hubspot_error(session.post(url, json=bad_value, timeout=10), 400, "VALIDATION_ERROR")
    bad_operator = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]}
    assert_hubspot_error(session.post(url, json=bad_operator, timeout=10), 400, "VALIDATION_ERROR")
    assert session.post(url, json={"limit": 200}, timeout=10).status_code == 200


def test_search_excludes_archived_records(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=30))
    emulator.dataset.archive("contacts", 7, datetime(2026, 2, 1, tzinfo=timezone.utc))

    payload = session.post(f"{emulator.base_url}{CONTACTS}/search", json={"limit": 100}, timeout=10).json()

    assert payload["total"] == 29
    assert 7 not in [int(record["id"]) for record in payload["results"]]


# Authentication and rate limits


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_missing_or_wrong_token_rejected(start: StartEmulator, authorization: str | None) -> None:
    emulator = start()
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.get(f"{emulator.base_url}{CONTACTS}", headers=headers, timeout=10)

    body = assert_hubspot_error(response, 401, "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found.")
    assert TOKEN not in response.text


def test_forbidden_token_missing_scopes(start: StartEmulator) -> None:
    emulator = start(forbidden_tokens=["read-only-token"])

    response = requests.get(
        f"{emulator.base_url}/crm/v3/objects/deals", headers={"Authorization": "Bearer read-only-token"}, timeout=10
    )

    body = assert_hubspot_error(response, 403, "MISSING_SCOPES")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]


def test_rate_limit_returns_429(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(rate_limit_per_second=3)
    url = f"{emulator.base_url}{CONTACTS}"

    responses = [session.get(url, params={"limit": "1"}, timeout=10) for _ in range(5)]
    statuses = [response.status_code for response in responses]

    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    limited = next(response for response in responses if response.status_code == 429)
    body = limited.json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "SECONDLY"
    assert body["message"] == "You have reached your secondly limit."
    assert limited.headers["X-HubSpot-RateLimit-Secondly"] == "3"
    assert limited.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "0"
    assert responses[0].headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "2"
    assert "X-HubSpot-RateLimit-Max" in responses[0].headers

    time.sleep(1.05)
    assert session.get(url, params={"limit": "1"}, timeout=10).status_code == 200


# Fault injection


def test_scripted_429_then_success(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()
    emulator.add_fault(CONTACTS, method="GET", status=429, headers={"Retry-After": "2"}, times=1)
    url = f"{emulator.base_url}{CONTACTS}"

    first = session.get(url, timeout=10)
    second = session.get(url, timeout=10)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["errorType"] == "RATE_LIMIT"
    assert second.status_code == 200
    assert [entry["status"] for entry in emulator.requests()] == [429, 200]
    assert emulator.faults() == []


def test_fault_skips_after_requests_and_matches_method(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()
    error_object = {"status": "error", "message": "Something went wrong", "category": "INTERNAL"}
    emulator.add_fault(CONTACTS, method="GET", status=200, body=error_object, times=2, after_requests=1)
    url = f"{emulator.base_url}{CONTACTS}"

    searched = session.post(f"{url}/search", json={}, timeout=10)
    answers = [session.get(url, timeout=10).json() for _ in range(4)]

    assert "results" in searched.json()
    assert "results" in answers[0]
    assert answers[1] == error_object
    assert answers[2] == error_object
    assert "results" in answers[3]


def test_fault_text_body_and_delay(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()
    emulator.add_fault(CONTACTS, status=502, body="<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    emulator.add_fault(CONTACTS, delay_seconds=0.3, after_requests=1)
    url = f"{emulator.base_url}{CONTACTS}"

    bad_gateway = session.get(url, timeout=10)
    started = time.monotonic()
    slow = session.get(url, timeout=10)
    elapsed = time.monotonic() - started

    assert bad_gateway.status_code == 502
    assert bad_gateway.text == "<html>Bad gateway</html>"
    assert bad_gateway.headers["Content-Type"] == "text/html"
    assert slow.status_code == 200
    assert elapsed >= 0.3


def test_repeat_after_fault_repeats_token(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=50))
    emulator.add_fault(CONTACTS, repeat_after=True, times=1)
    url = f"{emulator.base_url}{CONTACTS}"

    first = session.get(url, params={"limit": "10"}, timeout=10).json()
    token = first["paging"]["next"]["after"]
    second = session.get(url, params={"limit": "10", "after": token}, timeout=10).json()
    third = session.get(url, params={"limit": "10", "after": token}, timeout=10).json()

    assert second["paging"]["next"]["after"] == token
    assert third["paging"]["next"]["after"] != token
    assert second["results"] == third["results"]


def test_repeat_after_fault_on_search(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=50))
    emulator.add_fault(f"{CONTACTS}/search", method="POST", repeat_after=True, times=1)
    url = f"{emulator.base_url}{CONTACTS}/search"

    first = session.post(url, json={"limit": 10}, timeout=10).json()
    second = session.post(url, json={"limit": 10, "after": first["paging"]["next"]["after"]}, timeout=10).json()

    assert first["paging"]["next"]["after"] == "10"
    assert second["paging"]["next"]["after"] == "10"


def test_control_api_over_http(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=10))
    control = f"{emulator.base_url}/_emulator"

    added = requests.post(
        f"{control}/faults",
        json={"path_prefix": CONTACTS, "method": "GET", "status": 500, "times": 1},
        timeout=10,
    )
    assert added.status_code == 201
    assert requests.get(f"{control}/faults", timeout=10).json()["faults"][0]["status"] == 500
    assert requests.delete(f"{control}/faults", timeout=10).status_code == 200
    assert session.get(f"{emulator.base_url}{CONTACTS}", timeout=10).status_code == 200

    invalid = requests.post(f"{control}/faults", json={"path_prefix": CONTACTS}, timeout=10)
    assert invalid.status_code == 400
    assert "status" in invalid.json()["message"]

    log = requests.get(f"{control}/requests", timeout=10).json()["requests"]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [("GET", CONTACTS, 200)]
    assert isinstance(log[0]["at"], float)

    created = requests.post(
        f"{control}/records/contacts",
        json={"properties": {"email": "new.person@example.com"}, "modifiedAt": "2026-03-01T09:00:00.000Z"},
        timeout=10,
    )
    assert created.json() == {"id": "11"}
    archived = requests.post(f"{control}/records/contacts/11/archive", timeout=10)
    assert archived.status_code == 200
    assert requests.post(f"{control}/records/contacts/11/archive", timeout=10).status_code == 404
    unknown_property = requests.post(f"{control}/records/contacts", json={"properties": {"nope": "1"}}, timeout=10)
    assert unknown_property.status_code == 400
    assert emulator.dataset.count("contacts", archived=True) == 1


# Mutation


def test_upsert_then_search_sees_new_version(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=100))
    changed_at = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    url = f"{emulator.base_url}{CONTACTS}/search"
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "2026-06-01T00:00:00Z"}]}
        ],
        "properties": ["email", "num_notes"],
    }
    assert session.post(url, json=body, timeout=10).json()["total"] == 0

    updated_id = emulator.dataset.upsert("contacts", 3, {"email": "changed@example.com"}, changed_at)
    new_id = emulator.dataset.upsert("contacts", None, {"email": "fresh@example.com", "num_notes": 4}, changed_at)
    payload = session.post(url, json=body, timeout=10).json()

    assert (updated_id, new_id) == (3, 101)
    assert payload["total"] == 2
    updated, created = payload["results"]
    assert updated["id"] == "3"
    assert updated["properties"]["email"] == "changed@example.com"
    assert updated["properties"]["lastmodifieddate"] == "2026-06-01T12:00:00.000Z"
    assert updated["updatedAt"] == "2026-06-01T12:00:00.000Z"
    assert updated["createdAt"] < updated["updatedAt"]
    assert created["id"] == "101"
    assert created["properties"]["num_notes"] == "4"
    assert emulator.dataset.count("contacts") == 101

    listed = session.get(f"{emulator.base_url}{CONTACTS}", params={"limit": "5", "after": "99"}, timeout=10).json()
    assert [record["id"] for record in listed["results"]] == ["99", "100", "101"]


def test_upsert_rejects_invalid_values() -> None:
    dataset = HubSpotDataset(contacts=5)

    with pytest.raises(ValueError, match="does not exist"):
        dataset.upsert("contacts", 1, {"favourite_colour": "blue"})
    with pytest.raises(ValueError, match="expects one of"):
        dataset.upsert("contacts", 1, {"lifecyclestage": "friend"})
    with pytest.raises(ValueError, match="expects a number"):
        dataset.upsert("contacts", 1, {"num_notes": "several"})
    with pytest.raises(ValueError, match="unknown object type"):
        dataset.upsert("tickets", None, {})


def test_archived_list(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=40))
    archived_at = datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    emulator.dataset.archive("contacts", 5, archived_at)
    emulator.dataset.archive("contacts", 2, archived_at)
    url = f"{emulator.base_url}{CONTACTS}"

    active = session.get(url, params={"limit": "100"}, timeout=10).json()["results"]
    archived = session.get(url, params={"archived": "true", "limit": "100"}, timeout=10).json()["results"]

    assert len(active) == 38
    assert {"2", "5"}.isdisjoint(record["id"] for record in active)
    assert [record["id"] for record in archived] == ["2", "5"]
    assert all(record["archived"] is True for record in archived)
    assert all(record["archivedAt"] == "2026-02-03T04:05:06.000Z" for record in archived)
    assert emulator.dataset.count("contacts") == 38
    assert emulator.dataset.count("contacts", archived=True) == 2
    with pytest.raises(ValueError, match="archived"):
        emulator.dataset.upsert("contacts", 5, {"email": "back@example.com"})


# Properties and data


def test_properties_endpoint_types(start: StartEmulator, session: requests.Session) -> None:
    emulator = start()

    def definitions(object_type: str) -> dict[str, dict[str, Any]]:
        response = session.get(f"{emulator.base_url}/crm/v3/properties/{object_type}", timeout=10)
        assert response.status_code == 200
        return {definition["name"]: definition for definition in response.json()["results"]}

    contacts, companies, deals = definitions("contacts"), definitions("companies"), definitions("deals")

    assert {name: spec["type"] for name, spec in contacts.items()} == {
        "hs_object_id": "number",
        "email": "string",
        "firstname": "string",
        "lastname": "string",
        "phone": "string",
        "company": "string",
        "lifecyclestage": "enumeration",
        "createdate": "datetime",
        "lastmodifieddate": "datetime",
        "hs_lead_status": "enumeration",
        "num_notes": "number",
        "hs_is_unworked": "bool",
        "date_of_birth": "date",
    }
    assert companies["annualrevenue"]["type"] == "number"
    assert companies["numberofemployees"]["type"] == "number"
    assert deals["closedate"]["type"] == "datetime"
    currency = {
        (object_type, name)
        for object_type, specs in (("contacts", contacts), ("companies", companies), ("deals", deals))
        for name, spec in specs.items()
        if spec["showCurrencySymbol"]
    }
    assert currency == {("companies", "annualrevenue"), ("deals", "amount")}
    for spec in (*contacts.values(), *companies.values(), *deals.values()):
        assert spec["hasUniqueValue"] is False
        assert spec["calculated"] is False
        assert spec["label"]
        assert spec["fieldType"]
        assert spec["groupName"]
    assert [option["value"] for option in contacts["lifecyclestage"]["options"]][:2] == ["subscriber", "lead"]


def test_seeded_values_have_hubspot_formats() -> None:
    dataset = HubSpotDataset(contacts=200, companies=50, deals=200)

    for record in dataset.records("contacts"):
        values = record.properties
        assert values["hs_is_unworked"] in ("true", "false")
        assert values["num_notes"] is not None
        assert values["num_notes"].isdigit()
        if values["date_of_birth"] is not None:
            datetime.strptime(values["date_of_birth"], "%Y-%m-%d")
        assert values["createdate"] is not None
        assert values["createdate"] <= values["lastmodifieddate"]
    for record in dataset.records("deals"):
        amount = record.properties["amount"]
        if amount is not None:
            whole, cents = amount.split(".")
            assert whole.isdigit()
            assert len(cents) == 2
    revenues = [record.properties["annualrevenue"] for record in dataset.records("companies")]
    assert any(value is not None and "." in value for value in revenues)
    assert None in revenues
    stamps = [record.updated_at for record in dataset.records("contacts")]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) < len(stamps)


def test_dataset_is_deterministic() -> None:
    def encoded(dataset: HubSpotDataset) -> bytes:
        records = {
            object_type: [record.to_wire(sorted(record.properties)) for record in dataset.records(object_type)]
            for object_type in ("contacts", "companies", "deals")
        }
        return json.dumps(records, sort_keys=True).encode()

    first = HubSpotDataset(contacts=300, companies=40, deals=60, seed=7)
    second = HubSpotDataset(contacts=300, companies=40, deals=60, seed=7)
    other_seed = HubSpotDataset(contacts=300, companies=40, deals=60, seed=8)

    assert encoded(first) == encoded(second)
    assert encoded(first) != encoded(other_seed)


def test_large_dataset_created_quickly() -> None:
    started = time.perf_counter()
    dataset = HubSpotDataset(contacts=100_000)
    records, next_id = dataset.page("contacts", after_id=99_901, limit=100)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert [record.id for record in records] == list(range(99_901, 100_001))
    assert next_id is None


# Custom properties


def property_types(session: requests.Session, emulator: HubSpotEmulator, object_type: str) -> dict[str, str]:
    response = session.get(f"{emulator.base_url}/crm/v3/properties/{object_type}", timeout=10)
    assert response.status_code == 200, response.text
    return {definition["name"]: definition["type"] for definition in response.json()["results"]}


def test_extra_properties_in_schema_and_unset(start: StartEmulator, session: requests.Session) -> None:
    extra = {"deals": [PropertySpec("score", "Score", "number"), PropertySpec("external_id", "External id", "number")]}
    emulator = start(dataset=HubSpotDataset(deals=12, extra_properties=extra))
    deals = f"{emulator.base_url}/crm/v3/objects/deals"

    definitions = session.get(f"{emulator.base_url}/crm/v3/properties/deals", timeout=10).json()["results"]
    by_name = {definition["name"]: definition for definition in definitions}
    assert [definition["name"] for definition in definitions][-2:] == ["score", "external_id"]
    assert by_name["score"]["type"] == "number"
    assert by_name["score"]["fieldType"] == "number"
    assert by_name["score"]["groupName"] == "dealinformation"
    assert by_name["external_id"]["label"] == "External id"
    single = session.get(f"{emulator.base_url}/crm/v3/properties/deals/external_id", timeout=10)
    assert single.json()["type"] == "number"

    listed = session.get(deals, params={"properties": "score,external_id", "limit": "100"}, timeout=10).json()
    assert len(listed["results"]) == 12
    for record in listed["results"]:
        assert record["properties"]["score"] is None
        assert record["properties"]["external_id"] is None

    emulator.dataset.upsert("deals", 4, {"score": "71.5"})
    search = {
        "filterGroups": [{"filters": [{"propertyName": "score", "operator": "GT", "value": 50}]}],
        "properties": ["score", "external_id"],
    }
    found = session.post(f"{deals}/search", json=search, timeout=10).json()
    assert found["total"] == 1
    assert found["results"][0]["id"] == "4"
    assert found["results"][0]["properties"]["score"] == "71.5"
    assert found["results"][0]["properties"]["external_id"] is None
    unset = {"filterGroups": [{"filters": [{"propertyName": "score", "operator": "NOT_HAS_PROPERTY"}]}]}
    assert session.post(f"{deals}/search", json=unset, timeout=10).json()["total"] == 11


def test_extra_properties_stay_per_dataset(start: StartEmulator, session: requests.Session) -> None:
    extra = {"contacts": [PropertySpec("loyalty_tier", "Loyalty tier", "string")]}
    custom = start(dataset=HubSpotDataset(contacts=3, extra_properties=extra))
    plain = start(dataset=HubSpotDataset(contacts=3))
    custom.add_property("contacts", PropertySpec("referrer", "Referrer", "string"))

    assert {"loyalty_tier", "referrer"} <= set(property_types(session, custom, "contacts"))
    assert "loyalty_tier" not in property_types(session, plain, "contacts")
    assert "referrer" not in property_types(session, plain, "contacts")
    assert "loyalty_tier" not in SCHEMAS["contacts"].by_name
    with pytest.raises(ValueError, match="does not exist"):
        plain.dataset.upsert("contacts", 1, {"loyalty_tier": "gold"})
    response = session.get(
        f"{plain.base_url}{CONTACTS}/1", params={"properties": "loyalty_tier,email"}, timeout=10
    ).json()
    assert "loyalty_tier" not in response["properties"]


def test_extra_properties_rejected_when_invalid() -> None:
    with pytest.raises(PropertyExistsError, match="amount"):
        HubSpotDataset(extra_properties={"deals": [PropertySpec("amount", "Amount", "number")]})
    with pytest.raises(ValueError, match="unknown object type"):
        HubSpotDataset(extra_properties={"tickets": [PropertySpec("score", "Score", "number")]})
    with pytest.raises(ValueError, match="invalid property name"):
        HubSpotDataset(extra_properties={"deals": [PropertySpec("Score", "Score", "number")]})
    with pytest.raises(ValueError, match="invalid type 'money'"):
        HubSpotDataset(extra_properties={"deals": [PropertySpec("score", "Score", "money")]})
    with pytest.raises(ValueError, match="needs at least one option"):
        HubSpotDataset(extra_properties={"deals": [PropertySpec("tier", "Tier", "enumeration")]})
    with pytest.raises(ValueError, match="non-empty label"):
        HubSpotDataset(extra_properties={"deals": [PropertySpec("score", " ", "number")]})
    with pytest.raises(ValueError, match="list of PropertySpec"):
        HubSpotDataset(extra_properties={"deals": PropertySpec("score", "Score", "number")})  # type: ignore[dict-item]


def test_extra_enumeration_and_bool_properties() -> None:
    extra = {
        "companies": [
            PropertySpec("tier", "Tier", "enumeration", options=("gold", "silver")),
            PropertySpec("is_partner", "Partner", "bool"),
        ]
    }
    dataset = HubSpotDataset(companies=2, extra_properties=extra)

    dataset.upsert("companies", 1, {"tier": "gold", "is_partner": True})

    assert dataset.schema("companies").by_name["is_partner"].options == ("true", "false")
    assert dataset.schema("companies").by_name["is_partner"].field_type == "booleancheckbox"
    record = dataset.get("companies", 1)
    assert record is not None
    assert record.properties["tier"] == "gold"
    assert record.properties["is_partner"] == "true"
    with pytest.raises(ValueError, match="expects one of gold, silver"):
        dataset.upsert("companies", 2, {"tier": "bronze"})


# Changing a property's type


def test_redefine_number_to_string(start: StartEmulator, session: requests.Session) -> None:
    extra = {"deals": [PropertySpec("external_id", "External id", "number")]}
    emulator = start(dataset=HubSpotDataset(deals=3, extra_properties=extra))
    dataset = emulator.dataset
    url = f"{emulator.base_url}/crm/v3/objects/deals/search"
    dataset.upsert("deals", 1, {"external_id": "5"})
    dataset.upsert("deals", 2, {"external_id": "10"})
    dataset.upsert("deals", 3, {"external_id": "9"})
    with pytest.raises(ValueError, match="expects a number"):
        dataset.upsert("deals", 1, {"external_id": "A-1"})
    sort = {"sorts": ["external_id"], "properties": ["external_id"]}
    numeric = session.post(url, json=sort, timeout=10).json()["results"]
    assert [record["properties"]["external_id"] for record in numeric] == ["5", "9", "10"]

    redefined = dataset.redefine_property("deals", "external_id", "string")

    assert redefined.type == "string"
    assert redefined.field_type == "text"
    definition = session.get(f"{emulator.base_url}/crm/v3/properties/deals/external_id", timeout=10).json()
    assert definition["type"] == "string"
    assert definition["fieldType"] == "text"
    # Stored values keep their text, and the same search now sorts them as strings.
    textual = session.post(url, json=sort, timeout=10).json()["results"]
    assert [record["properties"]["external_id"] for record in textual] == ["10", "5", "9"]
    dataset.upsert("deals", 3, {"external_id": "A-1"})
    equal = {"filterGroups": [{"filters": [{"propertyName": "external_id", "operator": "EQ", "value": "A-1"}]}]}
    found = session.post(url, json=equal, timeout=10).json()
    assert [record["id"] for record in found["results"]] == ["3"]


def test_redefine_string_to_number_keeps_old_values(start: StartEmulator, session: requests.Session) -> None:
    extra = {"deals": [PropertySpec("external_id", "External id", "string")]}
    emulator = start(dataset=HubSpotDataset(deals=4, extra_properties=extra))
    dataset = emulator.dataset
    dataset.upsert("deals", 1, {"external_id": "A-1"})
    dataset.upsert("deals", 2, {"external_id": "20"})
    dataset.upsert("deals", 3, {"external_id": "3"})

    emulator.redefine_property("deals", "external_id", "number")
    url = f"{emulator.base_url}/crm/v3/objects/deals/search"
    greater = {"filterGroups": [{"filters": [{"propertyName": "external_id", "operator": "GT", "value": 0}]}]}
    not_in = {"filterGroups": [{"filters": [{"propertyName": "external_id", "operator": "NOT_IN", "values": [3]}]}]}
    sorted_body = {"sorts": ["external_id"], "properties": ["external_id"]}

    filtered = session.post(url, json=greater, timeout=10)
    assert filtered.status_code == 200, filtered.text
    assert [record["id"] for record in filtered.json()["results"]] == ["2", "3"]
    excluded = session.post(url, json=not_in, timeout=10).json()
    assert [record["id"] for record in excluded["results"]] == ["2"]
    ordered = session.post(url, json=sorted_body, timeout=10).json()["results"]
    # Unset (4) and unreadable (1) values sort first, in id order.
    assert [record["id"] for record in ordered] == ["1", "4", "3", "2"]
    assert ordered[0]["properties"]["external_id"] == "A-1"
    with pytest.raises(ValueError, match="expects a number"):
        dataset.upsert("deals", 4, {"external_id": "B-2"})


def test_redefine_property_rejections() -> None:
    dataset = HubSpotDataset(contacts=2, deals=2)

    with pytest.raises(PropertyNotFoundError, match="favourite_colour"):
        dataset.redefine_property("contacts", "favourite_colour", "string")
    with pytest.raises(ValueError, match="cannot be changed"):
        dataset.redefine_property("deals", "hs_lastmodifieddate", "string")
    with pytest.raises(ValueError, match="cannot be changed"):
        dataset.redefine_property("deals", "hs_object_id", "string")
    with pytest.raises(ValueError, match="invalid type 'text'"):
        dataset.redefine_property("deals", "amount", "text")
    with pytest.raises(ValueError, match="options apply only to enumeration"):
        dataset.redefine_property("deals", "amount", "string", options=["a"])
    with pytest.raises(ValueError, match="unknown object type"):
        dataset.redefine_property("tickets", "amount", "string")
    assert dataset.schema("deals").by_name["amount"].type == "number"


def test_redefine_to_enumeration_uses_options() -> None:
    dataset = HubSpotDataset(contacts=2)

    with pytest.raises(ValueError, match="needs at least one option"):
        dataset.redefine_property("contacts", "company", "enumeration")
    spec = dataset.redefine_property("contacts", "company", "enumeration", options=["acme", "globex"])
    kept = dataset.redefine_property("contacts", "lifecyclestage", "enumeration")

    assert spec.options == ("acme", "globex")
    assert spec.field_type == "select"
    assert kept.options[:2] == ("subscriber", "lead")
    dataset.upsert("contacts", 1, {"company": "acme"})
    with pytest.raises(ValueError, match="expects one of acme, globex"):
        dataset.upsert("contacts", 2, {"company": "initech"})


def test_control_api_adds_and_redefines_property(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(deals=3))
    control = f"{emulator.base_url}/_emulator/properties"

    added = requests.post(f"{control}/deals", json={"name": "score", "label": "Score", "type": "number"}, timeout=10)
    assert added.status_code == 201, added.text
    assert added.json()["name"] == "score"
    assert added.json()["type"] == "number"
    assert property_types(session, emulator, "deals")["score"] == "number"
    same_name = {"name": "score", "label": "Score", "type": "string"}
    duplicate = requests.post(f"{control}/deals", json=same_name, timeout=10)
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["message"]

    patched = requests.patch(f"{control}/deals/score", json={"type": "string"}, timeout=10)
    assert patched.status_code == 200, patched.text
    assert patched.json()["type"] == "string"
    assert property_types(session, emulator, "deals")["score"] == "string"
    upsert = {"id": 1, "properties": {"score": "A-1"}}
    stored = requests.post(f"{emulator.base_url}/_emulator/records/deals", json=upsert, timeout=10)
    assert stored.status_code == 200, stored.text
    record = session.get(f"{emulator.base_url}/crm/v3/objects/deals/1", params={"properties": "score"}, timeout=10)
    assert record.json()["properties"]["score"] == "A-1"

    enumeration = {"name": "tier", "label": "Tier", "type": "enumeration", "options": ["gold", "silver"]}
    tier = requests.post(f"{control}/0-3", json=enumeration, timeout=10)
    assert [option["value"] for option in tier.json()["options"]] == ["gold", "silver"]


def test_control_api_property_errors(start: StartEmulator) -> None:
    emulator = start(dataset=HubSpotDataset(deals=3))
    control = f"{emulator.base_url}/_emulator/properties"

    unknown_property = requests.patch(f"{control}/deals/nope", json={"type": "string"}, timeout=10)
    assert unknown_property.status_code == 404
    assert "nope" in unknown_property.json()["message"]
    assert requests.patch(f"{control}/deals/amount", json={"type": "money"}, timeout=10).status_code == 400
    assert requests.patch(f"{control}/deals/amount", json={}, timeout=10).status_code == 400
    no_label = requests.post(f"{control}/deals", json={"name": "score", "type": "number"}, timeout=10)
    assert no_label.status_code == 400
    assert "label" in no_label.json()["message"]
    bad_name = requests.post(f"{control}/deals", json={"name": "Bad Name", "label": "x", "type": "number"}, timeout=10)
    assert bad_name.status_code == 400
    unknown_type = requests.post(f"{control}/tickets", json={"name": "a", "label": "A", "type": "string"}, timeout=10)
    assert unknown_type.status_code == 404
    assert requests.get(f"{control}/deals", timeout=10).status_code == 404
    assert requests.patch(f"{control}/deals/amount", data=b"{oops", timeout=10).status_code == 400
    assert emulator.dataset.schema("deals").by_name["amount"].type == "number"


# Number values


NUMBER_TEXTS = ("34.7", "0.1", "19.99", "5", "3.7", "34.70", "-0.5", "1e3")


def test_number_text_kept_on_wire(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(deals=len(NUMBER_TEXTS)))
    deals = f"{emulator.base_url}/crm/v3/objects/deals"
    for record_id, text in enumerate(NUMBER_TEXTS, start=1):
        emulator.dataset.upsert("deals", record_id, {"amount": text})

    listed = session.get(deals, params={"properties": "amount", "limit": "100"}, timeout=10).json()["results"]
    searched = session.post(f"{deals}/search", json={"properties": ["amount"], "limit": 100}, timeout=10).json()
    single = session.get(f"{deals}/2", params={"properties": "amount"}, timeout=10).json()

    assert [record["properties"]["amount"] for record in listed] == list(NUMBER_TEXTS)
    assert [record["properties"]["amount"] for record in searched["results"]] == list(NUMBER_TEXTS)
    assert single["properties"]["amount"] == "0.1"


def test_number_from_python_values() -> None:
    dataset = HubSpotDataset(deals=4)

    dataset.upsert("deals", 1, {"amount": 0.1})
    dataset.upsert("deals", 2, {"amount": 19.99})
    dataset.upsert("deals", 3, {"amount": 5})
    dataset.upsert("deals", 4, {"amount": Decimal("34.70")})

    amounts = [record.properties["amount"] for record in dataset.records("deals")]
    assert amounts == ["0.1", "19.99", "5", "34.70"]


def test_number_text_kept_from_control_json(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=2, deals=len(NUMBER_TEXTS)))
    records = f"{emulator.base_url}/_emulator/records"
    for record_id, text in enumerate(NUMBER_TEXTS, start=1):
        # The body is written by hand so that the JSON number keeps its digits, such as the trailing 0 of 34.70.
        body = f'{{"id": {record_id}, "properties": {{"amount": {text}}}}}'
        response = requests.post(f"{records}/deals", data=body.encode(), timeout=10)
        assert response.status_code == 200, response.text
    stamped = b'{"id": 1, "properties": {"num_notes": 3.0}, "modifiedAt": 1767225600000.0}'
    assert requests.post(f"{records}/contacts", data=stamped, timeout=10).status_code == 200

    listed = session.get(
        f"{emulator.base_url}/crm/v3/objects/deals", params={"properties": "amount", "limit": "100"}, timeout=10
    )
    contact = session.get(f"{emulator.base_url}{CONTACTS}/1", params={"properties": "num_notes"}, timeout=10).json()

    assert [record["properties"]["amount"] for record in listed.json()["results"]] == list(NUMBER_TEXTS)
    assert contact["properties"]["num_notes"] == "3.0"
    assert contact["updatedAt"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1_000", " 5", "5 ", "", "1,5", "0x10"])
def test_number_rejects_non_decimal_text(value: str) -> None:
    dataset = HubSpotDataset(deals=1)

    with pytest.raises(ValueError, match="expects a number"):
        dataset.upsert("deals", 1, {"amount": value})


# Modification times


@pytest.mark.parametrize(
    "modified_at",
    [
        datetime(2030, 7, 1, 8, 30, tzinfo=timezone.utc),
        datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
        datetime(1965, 3, 4),
    ],
)
def test_upsert_modified_at_far_from_now(
    start: StartEmulator, session: requests.Session, modified_at: datetime
) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=10))
    expected = modified_at.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    emulator.dataset.upsert("contacts", 4, {"firstname": "Changed"}, modified_at)
    created_id = emulator.dataset.upsert("contacts", None, {"email": "time.traveller@example.com"}, modified_at)
    body = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "EQ", "value": expected}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["firstname", "lastmodifieddate"],
    }
    found = session.post(f"{emulator.base_url}{CONTACTS}/search", json=body, timeout=10).json()

    assert created_id == 11
    assert [record["id"] for record in found["results"]] == ["4", "11"]
    for record in found["results"]:
        assert record["updatedAt"] == expected
        assert record["properties"]["lastmodifieddate"] == expected
    new_record = found["results"][1]
    assert new_record["createdAt"] == expected


def test_control_modified_at_far_from_now(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=10))
    records = f"{emulator.base_url}/_emulator/records/contacts"

    future = requests.post(records, json={"id": 2, "properties": {}, "modifiedAt": "2030-01-01T00:00:00Z"}, timeout=10)
    past = requests.post(records, json={"id": 3, "properties": {}, "modifiedAt": "1999-06-30"}, timeout=10)
    sorted_body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 100}
    results = session.post(f"{emulator.base_url}{CONTACTS}/search", json=sorted_body, timeout=10).json()["results"]

    assert future.status_code == 200, future.text
    assert past.status_code == 200, past.text
    assert results[0]["id"] == "3"
    assert results[0]["updatedAt"] == "1999-06-30T00:00:00.000Z"
    assert results[-1]["id"] == "2"
    assert results[-1]["updatedAt"] == "2030-01-01T00:00:00.000Z"


# Changes during paging


def test_search_paging_sees_record_moved_by_upsert(start: StartEmulator, session: requests.Session) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=30))
    url = f"{emulator.base_url}{CONTACTS}/search"
    body: dict[str, Any] = {
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["lastmodifieddate"],
        "limit": 10,
    }
    first = session.post(url, json=body, timeout=10).json()
    assert [int(record["id"]) for record in first["results"]] == list(range(1, 11))

    emulator.dataset.upsert("contacts", 3, {"firstname": "Moved"}, datetime(2026, 6, 1, tzinfo=timezone.utc))
    pages = [first]
    while "paging" in pages[-1]:
        body["after"] = pages[-1]["paging"]["next"]["after"]
        pages.append(session.post(url, json=body, timeout=10).json())
    ids = [int(record["id"]) for page in pages for record in page["results"]]

    # The search is re-sorted at each request and "after" is an offset, so id 3 moves to the end
    # and every later record shifts one place forward: id 11 falls back onto page 1 and is skipped.
    assert [page["total"] for page in pages] == [30, 30, 30]
    assert [int(record["id"]) for record in pages[1]["results"]] == list(range(12, 22))
    assert [int(record["id"]) for record in pages[2]["results"]] == [*range(22, 31), 3]
    assert ids.count(3) == 2
    assert 11 not in ids
    moved = pages[2]["results"][-1]
    assert moved["properties"]["lastmodifieddate"] == "2026-06-01T00:00:00.000Z"


# HTTP behaviour


def test_keep_alive_reuses_connection(start: StartEmulator) -> None:
    emulator = start(dataset=HubSpotDataset(contacts=20))
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        connection.request("GET", CONTACTS, headers=headers)
        first = connection.getresponse()
        first_body = first.read()
        socket_after_first = connection.sock
        connection.request("POST", f"{CONTACTS}/search", body=b"{}", headers=headers)
        second = connection.getresponse()
        second_body = second.read()
        socket_after_second = connection.sock
    finally:
        connection.close()

    assert first.status == 200
    assert int(first.getheader("Content-Length")) == len(first_body)
    assert second.status == 200
    assert int(second.getheader("Content-Length")) == len(second_body)
    assert socket_after_first is not None
    assert socket_after_second is socket_after_first


def test_main_rejects_port_in_use(start: StartEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emulator = start()

    status = emulator_main(["--port", str(emulator.port), "--contacts", "1"])

    assert status == 1
    assert "cannot start" in capsys.readouterr().err
