"""Page iteration over HubSpot's list and search endpoints.

Full refresh pages through ``GET /crm/v3/objects/{type}`` with the ``after`` token. Incremental reads
use ``POST /crm/v3/objects/{type}/search`` filtered on the modification property with ``GTE`` and
sorted ascending. A search returns at most 10,000 results, so when a query reaches that cap the
search restarts from the last value it saw; repeats at that value are removed by merge-by-key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from connectors.crm_platform.schema import CURSOR_PROPERTY
from connectors.errors import PaginationError
from connectors.http import ProviderRESTClient, TokenCursorPaginator

logger = logging.getLogger(__name__)

LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000


class Page(NamedTuple):
    """One provider answer: its records, parsed, and its raw body for the fast Arrow reader."""

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


def _search_body(stream: str, properties: list[str], start: datetime) -> dict[str, Any]:
    cursor_property = CURSOR_PROPERTY[stream]
    return {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": cursor_property, "operator": "GTE", "value": str(_epoch_millis(start))}
                ]
            }
        ],
        "sorts": [{"propertyName": cursor_property, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": SEARCH_PAGE_SIZE,
    }


def search_pages(
    client: ProviderRESTClient,
    stream: str,
    properties: list[str],
    start: datetime,
    *,
    parse_cursor: Callable[[str | None], datetime | None],
) -> Iterator[Page]:
    """Yield pages of records modified at or after ``start``, restarting at the 10,000 cap."""
    cursor_property = CURSOR_PROPERTY[stream]
    while True:
        seen = 0
        total: int | None = None
        last_value: datetime | None = None
        paginator = TokenCursorPaginator(stream, cursor_path="paging.next.after", cursor_body_path="after")
        for page in client.paginate(
            f"/crm/v3/objects/{stream}/search",
            method="POST",
            json=_search_body(stream, properties, start),
            paginator=paginator,
            data_selector="results",
            hooks={"response": []},
        ):
            results = list(page)
            yield Page(results, page.response.content)
            if total is None:
                total = int(page.response.json().get("total") or 0)
            seen += len(results)
            if results:
                last_value = parse_cursor(results[-1]["properties"].get(cursor_property))
        if total is None or seen >= total or seen < SEARCH_RESULT_CAP or last_value is None:
            return
        if last_value <= start:
            raise PaginationError(
                f"stream {stream!r}: more than {SEARCH_RESULT_CAP} records share "
                f"{cursor_property} = {start.isoformat()}, so the search cannot move past them; "
                "run a full refresh (clear the cursor) instead"
            )
        logger.info(
            "stream %s: search reached the %d-result cap; restarting from %s",
            stream,
            SEARCH_RESULT_CAP,
            last_value.isoformat(),
        )
        start = last_value
