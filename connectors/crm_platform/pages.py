"""Page iteration over HubSpot's list and search endpoints.

Full refresh pages through ``GET /crm/v3/objects/{type}`` with the ``after`` token, which follows
record ids, so changes during the read do not shift pages. Incremental reads use
``POST /crm/v3/objects/{type}/search`` filtered on the modification property and sorted ascending,
one search per page starting at the last value seen (see ``search_pages``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from dlt.sources.helpers.rest_client.paginators import BasePaginator, SinglePagePaginator

from connectors.crm_platform.schema import CURSOR_PROPERTY
from connectors.errors import PaginationError
from connectors.http import ProviderRESTClient, TokenCursorPaginator

logger = logging.getLogger(__name__)

LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000


class Page(NamedTuple):
    """One provider response: its records, parsed, and its raw body for the fast Arrow reader."""

    records: list[dict[str, Any]]
    body: bytes


def list_pages(
    client: ProviderRESTClient, stream: str, properties: list[str], *, archived: bool
) -> Iterator[Page]:
    """Yield every page of records of ``stream`` from the list endpoint."""
    paginator = TokenCursorPaginator(stream, cursor_path="paging.next.after", cursor_param="after")
    params = {
        "limit": LIST_PAGE_SIZE,
        "properties": ",".join(properties),
        "archived": "true" if archived else "false",
    }
    for page in client.paginate(
        f"/crm/v3/objects/{stream}",
        params=params,
        paginator=paginator,
        data_selector="results",
        hooks={"response": []},
    ):
        yield Page(list(page), page.response.content)


def _epoch_millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _search_body(stream: str, properties: list[str], operator: str, value: datetime) -> dict[str, Any]:
    cursor_property = CURSOR_PROPERTY[stream]
    return {
        "filterGroups": [
            {"filters": [{"propertyName": cursor_property, "operator": operator, "value": str(_epoch_millis(value))}]}
        ],
        "sorts": [{"propertyName": cursor_property, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": SEARCH_PAGE_SIZE,
    }


def _search(
    client: ProviderRESTClient, stream: str, body: dict[str, Any], paginator: BasePaginator
) -> Iterator[Page]:
    for page in client.paginate(
        f"/crm/v3/objects/{stream}/search",
        method="POST",
        json=body,
        paginator=paginator,
        data_selector="results",
        hooks={"response": []},
    ):
        yield Page(list(page), page.response.content)


def _pages_at_value(client: ProviderRESTClient, stream: str, properties: list[str], value: datetime) -> Iterator[Page]:
    """Yield every record whose modification time equals ``value``, paging by offset."""
    paginator = TokenCursorPaginator(stream, cursor_path="paging.next.after", cursor_body_path="after")
    seen = 0
    for page in _search(client, stream, _search_body(stream, properties, "EQ", value), paginator):
        seen += len(page.records)
        total = int(orjson.loads(page.body).get("total") or 0)
        if total > SEARCH_RESULT_CAP:
            raise PaginationError(
                f"stream {stream!r}: {total} records share {CURSOR_PROPERTY[stream]} = {value.isoformat()}, "
                f"more than the {SEARCH_RESULT_CAP} one search can return; run a full refresh "
                "(clear the cursor) instead"
            )
        yield page


def search_pages(
    client: ProviderRESTClient,
    stream: str,
    properties: list[str],
    start: datetime,
    *,
    parse_cursor: Callable[[str | None], datetime | None],
) -> Iterator[Page]:
    """Yield pages of records modified at or after ``start``, in ascending modification order.

    Each page is a new search that starts at the last value seen (keyset paging) instead of an
    offset. An offset would skip a record whenever another one changes during the read and moves
    to a later position, and a single search stops at 10,000 results. Records at the boundary
    value are read twice and stored once (merge by key). When a whole page shares one value, the
    records at that value are paged by offset before the search moves past it.
    """
    cursor_property = CURSOR_PROPERTY[stream]
    position, operator = start, "GTE"
    while True:
        body = _search_body(stream, properties, operator, position)
        page = next(_search(client, stream, body, SinglePagePaginator()))
        yield page
        if len(page.records) < SEARCH_PAGE_SIZE:
            return
        last = parse_cursor(page.records[-1].get("properties", {}).get(cursor_property))
        if last is None:
            raise PaginationError(
                f"stream {stream!r}: a search result has no {cursor_property}, so paging cannot continue"
            )
        if last > position:
            position, operator = last, "GTE"
            continue
        logger.info("stream %s: a full search page shares %s = %s; paging through that value", stream, cursor_property, position.isoformat())
        yield from _pages_at_value(client, stream, properties, position)
        operator = "GT"
