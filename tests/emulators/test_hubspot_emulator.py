"""Tests of the HubSpot CRM v3 emulator over real HTTP on the loopback interface."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import pytest
import requests

from connectors.emulators.hubspot import HubSpotDataset, HubSpotEmulator, start_hubspot_emulator
from connectors.emulators.hubspot.__main__ import main as emulator_main
from connectors.emulators.hubspot.generator import SEED_START_MS

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
