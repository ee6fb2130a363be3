"""Errors a connector raises; the gateway and the Dagster runner each map them once."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector failure; the message is safe to show (it never contains secrets)."""

    code = "CONNECTOR_ERROR"


class CredentialsRejected(ConnectorError):
    """The provider rejected the connection's credentials with 401 or 403."""

    code = "CREDENTIALS_REJECTED"


class InvalidCredentials(ConnectorError):
    """The credentials object does not have the shape the connector type declares."""

    code = "INVALID_CREDENTIALS"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidConfig(ConnectorError):
    """The connection's config is invalid, for example a base URL that is not allowed."""

    code = "INVALID_CONFIG"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ProviderError(ConnectorError):
    """The provider failed or returned something the connector cannot use."""

    code = "PROVIDER_ERROR"


class PaginationError(ProviderError):
    """The provider's paging went wrong, for example by repeating a next-page token."""

    code = "PAGINATION_ERROR"


class UnknownStream(ConnectorError):
    code = "UNKNOWN_STREAM"
