"""Outbound guard for provider base URLs and for every request sent to a provider.

Providers are public HTTPS APIs. A base URL whose host is, or resolves to, a loopback, private,
link-local, reserved or cloud-metadata address is rejected unless the deployment sets
``OPBOX_ALLOW_PRIVATE_NETWORK=1`` for local emulators; that setting also allows plain http.

The check at save time is repeated when connecting: ``GuardedAdapter`` rejects plain http and
internal literal addresses before a request is sent, and checks the address each new socket is
actually connected to, so a host name that resolves to a public address when saved and to an
internal one later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.errors import InvalidConfig

logger = logging.getLogger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata and platform endpoints. Some lie in ranges that count as global (Azure's
# 168.63.129.16), so the range checks below would not catch them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(value)
    for value in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "fd00:ec2::254")
)
# The well-known NAT64 prefix: its last 32 bits are an IPv4 address that a NAT64 gateway reaches.
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


def private_network_allowed() -> bool:
    """Return whether ``OPBOX_ALLOW_PRIVATE_NETWORK`` is set, read as ``resources.settings`` reads it."""
    return os.environ.get("OPBOX_ALLOW_PRIVATE_NETWORK", "").strip().lower() in {"1", "true", "yes", "on"}


class OutboundAddressRejected(InvalidConfig):
    """A request to a provider would have reached an internal address or used plain http."""

    code = "OUTBOUND_ADDRESS_REJECTED"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv4-mapped, 6to4 or NAT64 address leads to, else None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_NETWORK:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal_address(address: IpAddress) -> bool:
    """Return True for addresses that must not be reached from a public deployment.

    That is every address that is not globally reachable (loopback, private, link-local,
    shared, reserved, documentation), multicast, and the cloud metadata endpoints. IPv6 forms
    that carry an IPv4 address are judged by that IPv4 address as well.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and is_internal_address(inner):
            return True
    return (
        address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_loopback
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


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def check_request_url(url: str, *, resolve_host_name: bool) -> None:
    """Raise ``OutboundAddressRejected`` unless ``url`` is https to a host that is not internal.

    Literal addresses are always checked. Host names are resolved and checked only when
    ``resolve_host_name`` is set, which the adapter does when a proxy connects on its behalf.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        raise OutboundAddressRejected(
            f"request to {parts.scheme}://{host}{parts.path} rejected: providers are reached over "
            "https only, unless the deployment sets OPBOX_ALLOW_PRIVATE_NETWORK=1 for local emulators",
            field="config.baseUrl",
        )
    literal = _literal_address(host)
    addresses = [literal] if literal is not None else []
    if literal is None and resolve_host_name:
        addresses = resolve_host(host, parts.port or 443)
    for address in addresses:
        if is_internal_address(address):
            raise _internal_address_error(host, address)


def check_connected_peer(sock: socket.socket, host: str) -> None:
    """Raise ``OutboundAddressRejected`` when the socket is connected to an internal address."""
    peer = _literal_address(str(sock.getpeername()[0]))
    if peer is None or is_internal_address(peer):
        raise _internal_address_error(host, peer)


def _internal_address_error(host: str, address: IpAddress | None) -> OutboundAddressRejected:
    logger.warning("outbound request to host %r rejected: it resolved to internal address %s", host, address)
    return OutboundAddressRejected(
        f"request to host {host!r} rejected: it resolved to {address}, a loopback, private, "
        "link-local or metadata address. Such hosts are allowed only when the deployment sets "
        "OPBOX_ALLOW_PRIVATE_NETWORK=1 for local emulators",
        field="config.baseUrl",
    )


class _PeerCheckingMixin:
    """Connection mixin that closes a new socket and raises when it is connected to an internal address.

    The check runs after the TCP connect and before TLS or any request bytes, on the address the
    operating system actually connected to, so a second DNS answer cannot slip past it.
    """

    host: str

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            check_connected_peer(sock, self.host)
        except BaseException:
            sock.close()
            raise
        return sock


class GuardedHTTPConnection(_PeerCheckingMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_PeerCheckingMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests transport adapter that enforces the outbound guard on every request.

    Direct connections are checked on the connected socket. Through a proxy, the socket leads to
    the proxy, which the operator configured, so the target host is resolved here and checked
    instead.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        via_proxy = select_proxy(str(request.url), proxies or {}) is not None
        # NOTE: through a proxy the target is resolved twice, here and by the proxy, so DNS
        # rebinding between the two lookups is not caught.
        check_request_url(str(request.url), resolve_host_name=via_proxy)
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
