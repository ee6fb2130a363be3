"""Outbound guard for provider base URLs.

Providers are public HTTPS APIs. A base URL whose host is, or resolves to, a loopback, private,
link-local, reserved or cloud-metadata address is rejected unless the deployment sets
``OPBOX_ALLOW_PRIVATE_NETWORK=1`` for local emulators; that setting also allows plain http.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from connectors.errors import InvalidConfig

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal_address(address: IpAddress) -> bool:
    """Return True for addresses that must not be reached from a public deployment."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def resolve_host(host: str, port: int) -> list[IpAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise InvalidConfig(
            f"config.baseUrl host {host!r} could not be resolved ({error.strerror}); check the URL",
            field="config.baseUrl",
        ) from error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def validate_base_url(url: str, *, allow_private_network: bool) -> str:
    """Return the URL without a trailing slash, or raise ``InvalidConfig`` saying why it is rejected."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidConfig("config.baseUrl must be a non-empty URL string", field="config.baseUrl")
    parts = urlsplit(url.strip())
    allowed_schemes = {"https", "http"} if allow_private_network else {"https"}
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise InvalidConfig(
            f"config.baseUrl {url!r} is not an https URL; providers are reached over https",
            field="config.baseUrl",
        )
    if parts.username or parts.password:
        raise InvalidConfig(
            "config.baseUrl must not contain a user name or password; put secrets in credentials",
            field="config.baseUrl",
        )
    if not allow_private_network:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for address in resolve_host(parts.hostname, port):
            if is_internal_address(address):
                raise InvalidConfig(
                    f"config.baseUrl host {parts.hostname!r} resolves to {address}, a loopback, "
                    "private or link-local address; such hosts are allowed only when the "
                    "deployment sets OPBOX_ALLOW_PRIVATE_NETWORK=1 for local emulators",
                    field="config.baseUrl",
                )
    return url.strip().rstrip("/")
