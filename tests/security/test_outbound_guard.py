"""The outbound guard: https only, and no connection to internal addresses, checked on the socket.

No test here sends traffic anywhere but to servers it starts on 127.0.0.1: the ``loopback_only``
fixture fails any connection attempt to another address before it reaches the network, and host
names are mapped to addresses in-process by a fake resolver.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from litestar.testing import TestClient

from connectors import network_guard
from connectors.crm_platform.connector import CrmPlatformConnector
from connectors.errors import InvalidConfig
from connectors.http import build_rest_client
from connectors.network_guard import OutboundAddressRejected, is_internal_address, validate_base_url
from resources.settings import load_settings
from tests.gateway.conftest import ClientFactory, Identities, bearer

LOOPBACK_HOSTS = ("127.0.0.1", "::1")
PUBLIC_ADDRESS = "93.184.216.34"
REBINDING_HOST = "rebinding.opbox.test"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test on any connection attempt to an address other than loopback."""
    attempted: list[str] = []
    original = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        attempted.append(str(address[0]))
        if address[0] not in LOOPBACK_HOSTS:
            raise AssertionError(f"the test tried to connect to {address}; only 127.0.0.1 is allowed")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempted


class FakeResolver:
    """Fake ``getaddrinfo`` that returns addresses of test host names from a table, one per call in turn.

    The last address of a name is repeated for every later call.
    """

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {name: list(addresses) for name, addresses in answers.items()}
        self.original = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return self.original(host, port, *args, **kwargs)
        queue = self.answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver({})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    server.close()


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = folder / "server.pem", folder / "server.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_path, key_path


class _JsonHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"results": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        return


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate; yields its URL and the certificate."""
    certificate, key = _self_signed_certificate(tmp_path)
    server = HTTPServer(("127.0.0.1", 0), _JsonHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", certificate
    server.shutdown()
    server.server_close()


def guarded_client(base_url: str) -> Any:
    return build_rest_client(base_url, BearerTokenAuth("pat-test"), allow_private_network=False, max_attempts=1)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "168.63.129.16",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:10.0.0.5",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ],
)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert is_internal_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not is_internal_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/crm/v3/objects/contacts",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:8443/",
        "https://127.0.0.1/",
    ],
)
def test_literal_internal_address_never_connects(url: str, loopback_only: list[str]) -> None:
    client = guarded_client(url)

    with pytest.raises(OutboundAddressRejected) as raised:
        client.session.get(url, timeout=5)

    assert "OPBOX_ALLOW_PRIVATE_NETWORK" in str(raised.value)
    assert loopback_only == []


def test_plain_http_is_rejected(loopback_only: list[str]) -> None:
    client = guarded_client("http://api.example.com")

    with pytest.raises(OutboundAddressRejected) as raised:
        client.session.get("http://api.example.com/crm/v3/properties/contacts", timeout=5)

    assert "https" in str(raised.value)
    assert loopback_only == []


def test_rebinding_is_caught_on_socket(
    resolver: FakeResolver, silent_listener: int, loopback_only: list[str]
) -> None:
    """A name that resolved to a public address when saved and resolves to loopback when connecting."""
    resolver.answers[REBINDING_HOST] = [PUBLIC_ADDRESS, "127.0.0.1"]
    base_url = f"https://{REBINDING_HOST}:{silent_listener}"
    assert validate_base_url(base_url, allow_private_network=False) == base_url
    client = guarded_client(base_url)

    with pytest.raises(OutboundAddressRejected) as raised:
        client.session.get(f"{base_url}/crm/v3/properties/contacts", timeout=5)

    assert "127.0.0.1" in str(raised.value)
    assert loopback_only == ["127.0.0.1"]


def test_rejection_is_not_retried(resolver: FakeResolver, silent_listener: int, loopback_only: list[str]) -> None:
    resolver.answers[REBINDING_HOST] = ["127.0.0.1"]
    base_url = f"https://{REBINDING_HOST}:{silent_listener}"
    client = build_rest_client(base_url, BearerTokenAuth("pat-test"), allow_private_network=False, max_attempts=5)

    with pytest.raises(OutboundAddressRejected):
        client.session.get(f"{base_url}/crm/v3/properties/contacts", timeout=5)

    assert loopback_only == ["127.0.0.1"]


def test_proxied_request_checks_target_by_name(resolver: FakeResolver, silent_listener: int, loopback_only: list[str]) -> None:
    resolver.answers[REBINDING_HOST] = ["10.0.0.5"]
    client = guarded_client(f"https://{REBINDING_HOST}")
    client.session.proxies = {"https": f"http://127.0.0.1:{silent_listener}"}

    with pytest.raises(OutboundAddressRejected) as raised:
        client.session.get(f"https://{REBINDING_HOST}/crm/v3/properties/contacts", timeout=5)

    assert "10.0.0.5" in str(raised.value)
    assert loopback_only == []


def test_public_host_is_reached(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """The guarded transport still sends requests: here 127.0.0.1 plays a public provider."""
    url, certificate = https_server
    original = network_guard.is_internal_address
    monkeypatch.setattr(
        network_guard,
        "is_internal_address",
        lambda address: address != ipaddress.ip_address("127.0.0.1") and original(address),
    )
    client = guarded_client(url)
    client.session.verify = str(certificate)

    response = client.session.get(f"{url}/crm/v3/properties/contacts", timeout=5)

    assert response.status_code == 200
    assert response.json() == {"results": []}
    assert loopback_only == ["127.0.0.1"]


def test_private_network_setting_allows_emulators(https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, certificate = https_server
    monkeypatch.setenv("OPBOX_ALLOW_PRIVATE_NETWORK", "1")
    client = build_rest_client(url, BearerTokenAuth("pat-test"), max_attempts=1)
    client.session.verify = str(certificate)

    response = client.session.get(f"{url}/crm/v3/properties/contacts", timeout=5)

    assert response.status_code == 200


def test_guard_is_on_by_default(monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]) -> None:
    monkeypatch.delenv("OPBOX_ALLOW_PRIVATE_NETWORK", raising=False)
    connector = CrmPlatformConnector({"apiKey": "pat-test"}, {"baseUrl": "https://10.0.0.5"})

    with pytest.raises(OutboundAddressRejected):
        connector.test_credentials()

    assert loopback_only == []


def test_save_time_check_rejects_metadata_host(resolver: FakeResolver) -> None:
    resolver.answers["metadata.opbox.test"] = ["169.254.169.254"]

    with pytest.raises(InvalidConfig) as raised:
        validate_base_url("https://metadata.opbox.test", allow_private_network=False)

    assert "169.254.169.254" in str(raised.value)


def test_gateway_check_reports_rebinding(
    make_client: ClientFactory,
    identities: Identities,
    resolver: FakeResolver,
    silent_listener: int,
    monkeypatch: pytest.MonkeyPatch,
    loopback_only: list[str],
) -> None:
    """Saved while public, the host later resolves to loopback: the health check fails, nothing is sent."""
    monkeypatch.delenv("OPBOX_ALLOW_PRIVATE_NETWORK")
    client: TestClient[Any] = make_client(load_settings())
    resolver.answers[REBINDING_HOST] = [PUBLIC_ADDRESS, "127.0.0.1"]
    body = {
        "name": "Rebinding CRM",
        "type": "CRM_PLATFORM",
        "credentials": {"apiKey": "pat-rebinding-test"},
        "config": {"baseUrl": f"https://{REBINDING_HOST}:{silent_listener}"},
    }
    created = client.post("/api/pipelines/connections", json=body, headers=bearer(identities.owner_key))
    assert created.status_code == 201, created.text

    response = client.post(
        f"/api/pipelines/connections/{created.json()['id']}/check", headers=bearer(identities.owner_key)
    )

    assert response.status_code == 200, response.text
    assert response.json()["healthy"] is False
    assert "127.0.0.1" in response.json()["message"]
    assert loopback_only == ["127.0.0.1"]
