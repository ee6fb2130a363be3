"""HTTP plumbing every connector shares: a dlt REST client with bounded retries and error mapping.

Retries come from dlt's requests helper: 429, 5xx and connection errors are retried with exponential
backoff (honouring ``Retry-After``) up to a bound. Other 4xx responses fail at once.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import orjson

from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from requests import Response
from requests.auth import AuthBase

from connectors.errors import CredentialsRejected, PaginationError, ProviderError
from connectors.network_guard import GuardedAdapter, private_network_allowed

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 5
BACKOFF_FACTOR_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 60
MAX_ERROR_MESSAGE_CHARS = 300
# Connections kept per host, as in dlt's own adapter.
POOL_MAX_CONNECTIONS = 50


class ProviderRESTClient(RESTClient):
    """A dlt REST client that checks each response once, after retries, before paging on.

    Error responses become connector errors (with any secret masked), and a 200 whose body lacks the
    records list (an error object in a success response) fails instead of loading nothing.
    """

    def __init__(self, *args: Any, secrets: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = secrets

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        what = f"request {response.request.method} {urlsplit(response.url).path}"
        raise_for_provider_status(response, what=what, secrets=self.secrets)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise ProviderError(f"{what}: the provider returned invalid JSON") from error
        # The paginator reads the same body next; parse it once per page.
        response.json = lambda **_: body  # type: ignore[method-assign]
        records = body.get(data_selector) if isinstance(body, dict) else None
        if not isinstance(records, list):
            message = mask_secrets(provider_message(response), self.secrets)
            raise ProviderError(
                f"{what}: the provider returned HTTP {response.status_code} without a "
                f"{data_selector!r} list ({message}); no rows were loaded from this page"
            )
        return records


def build_rest_client(
    base_url: str,
    auth: AuthBase,
    *,
    secrets: tuple[str, ...] = (),
    max_attempts: int = MAX_ATTEMPTS,
    backoff_factor_seconds: float = BACKOFF_FACTOR_SECONDS,
    allow_private_network: bool | None = None,
) -> ProviderRESTClient:
    """Return a REST client whose session retries transient failures a bounded number of times.

    Unless private networks are allowed (by default, when ``OPBOX_ALLOW_PRIVATE_NETWORK`` is
    set), every request goes through the outbound guard: https only, and no connection to an
    internal address, checked on the connected socket.
    """
    session = Client(
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor_seconds,
        request_max_retry_delay=MAX_RETRY_DELAY_SECONDS,
        raise_for_status=False,
    ).session
    # Reading proxy settings from the environment on every request costs about 1 ms each; read
    # them once instead.
    session.trust_env = False
    session.proxies.update(getproxies())
    if allow_private_network is None:
        allow_private_network = private_network_allowed()
    if not allow_private_network:
        adapter = GuardedAdapter(pool_maxsize=POOL_MAX_CONNECTIONS)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return ProviderRESTClient(base_url=base_url, auth=auth, session=session, secrets=secrets)


class TokenCursorPaginator(JSONResponseCursorPaginator):
    """A JSON cursor paginator that fails instead of looping when a next-page token repeats."""

    def __init__(self, stream: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream
        self._seen_tokens: set[str] = set()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        token = self._next_reference
        if token is None:
            return
        if token in self._seen_tokens:
            raise PaginationError(
                f"stream {self.stream!r}: the provider returned next-page token {token!r} twice; "
                "stopped to avoid an endless loop. Retry the sync; if it persists, report it to "
                "the provider"
            )
        self._seen_tokens.add(token)


def provider_message(response: Response) -> str:
    """Return the provider's error message from a JSON error body, shortened, else the status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("category")
        if isinstance(message, str):
            return message[:MAX_ERROR_MESSAGE_CHARS]
    return f"HTTP {response.status_code}"


def mask_secrets(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text


def raise_for_provider_status(response: Response, *, what: str, secrets: tuple[str, ...] = ()) -> None:
    """Translate an error response into a connector error whose text names ``what`` and no secret."""
    status = response.status_code
    if status < 400:
        return
    message = mask_secrets(provider_message(response), secrets)
    if status in (401, 403):
        raise CredentialsRejected(
            f"{what}: credentials rejected by the provider (HTTP {status}: {message}); check the "
            "API key and its scopes, then update the connection's credentials"
        )
    if status == 429 or status >= 500:
        raise ProviderError(
            f"{what}: the provider kept failing (HTTP {status}: {message}) after "
            f"{MAX_ATTEMPTS} attempts; try again later"
        )
    raise ProviderError(f"{what}: the provider rejected the request (HTTP {status}: {message})")
