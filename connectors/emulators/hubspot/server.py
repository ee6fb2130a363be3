"""HTTP server of the emulator and the handle that tests hold."""

from __future__ import annotations

import logging
import socket
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

from .control import handle_control
from .dataset import HubSpotDataset
from .errors import ApiError
from .schema import PropertySpec
from .service import ApiRequest, HubSpotService, Response, json_response

logger = logging.getLogger(__name__)

# The server listens on IPv4 only, so every loopback client address starts with "127.".
_LOOPBACK_PREFIX = "127."


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubSpotEmulator/1.0"
    # Seconds an idle keep-alive connection stays open.
    timeout = 60
    server: _EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, Nagle's algorithm can hold back a small response
        # until the client's delayed ACK arrives, which takes tens of milliseconds.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        # The service logs each request at DEBUG, without headers or query strings.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            return None
        if length < 0:
            return None
        return self.rfile.read(length)

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            # The body length is unknown, so the connection cannot be reused.
            self.close_connection = True
            message = "Invalid Content-Length, or chunked transfer encoding, which the emulator does not support."
            self._write(json_response(400, ApiError(400, "VALIDATION_ERROR", message).body))
            return

        target = urlsplit(self.path)
        service = self.server.service
        try:
            if target.path == "/_emulator" or target.path.startswith("/_emulator/"):
                if not self.client_address[0].startswith(_LOOPBACK_PREFIX):
                    response = json_response(403, {"status": "error", "message": "the control API is loopback-only"})
                else:
                    response = handle_control(service, self.command, target.path, body)
            else:
                request = ApiRequest(
                    method=self.command,
                    path=target.path,
                    query_string=target.query,
                    body=body,
                    authorization=self.headers.get("Authorization"),
                )
                response = service.handle(request)
        except Exception:  # noqa: BLE001 - respond with 500 and keep serving, as a real API would
            logger.exception("Emulator failed on %s %s", self.command, target.path)
            error = ApiError(500, "INTERNAL_ERROR", "The emulator failed while handling this request.")
            response = json_response(500, error.body)
        self._write(response)

    def _write(self, response: Response) -> None:
        """Write status line, headers and body in one call, so they leave in as few packets as possible."""
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Length: {len(response.body)}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except (BrokenPipeError, ConnectionResetError) as error:
            # Clients that time out, for example during a scripted delay, close the connection first.
            self.close_connection = True
            logger.debug("Client %s closed the connection before the response was sent: %s", self.client_address, error)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: HubSpotService) -> None:
        self.service = service
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("Emulator failed while serving a connection from %s", client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down open keep-alive connections, whose handler threads would otherwise wait for the idle timeout."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HubSpotEmulator:
    """A running emulator. Use as a context manager, or call ``stop()``."""

    def __init__(self, server: _EmulatorHTTPServer, service: HubSpotService) -> None:
        self._server = server
        self._service = service
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.base_url = f"http://{self.host}:{self.port}"
        service.base_url = self.base_url
        # stop() waits up to one poll interval for serve_forever to notice, so keep it short.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"hubspot-emulator-{self.port}",
            daemon=True,
        )
        self._stopped = False

    @property
    def dataset(self) -> HubSpotDataset:
        return self._service.dataset

    def _start(self) -> None:
        self._thread.start()
        logger.info("HubSpot emulator listening on %s", self.base_url)

    def add_fault(
        self,
        path_prefix: str = "/crm/",
        *,
        method: str | None = None,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        after_requests: int = 0,
        repeat_after: bool = False,
        delay_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Script a fault (see ``faults.Fault``) and return its description, including its id.

        Raises ValueError for an invalid combination, such as a fault that changes nothing.
        """
        spec = {
            "path_prefix": path_prefix,
            "method": method,
            "status": status,
            "body": body,
            "headers": headers or {},
            "times": times,
            "after_requests": after_requests,
            "repeat_after": repeat_after,
            "delay_seconds": delay_seconds,
        }
        return self._service.faults.add(spec).to_json()

    def add_property(self, object_type: str, spec: PropertySpec) -> PropertySpec:
        """Add a property to ``object_type`` (see ``HubSpotDataset.add_property``) and return its definition."""
        return self._service.dataset.add_property(object_type, spec)

    def redefine_property(
        self, object_type: str, name: str, new_type: str, *, options: Sequence[str] | None = None
    ) -> PropertySpec:
        """Change the type of a property (see ``HubSpotDataset.redefine_property``) and return its definition."""
        return self._service.dataset.redefine_property(object_type, name, new_type, options=options)

    def clear_faults(self) -> None:
        self._service.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self._service.faults.describe()

    def requests(self) -> list[dict[str, Any]]:
        """Return the logged API requests, oldest first: method, path, query, status, at (epoch seconds), body."""
        return self._service.request_log.entries()

    def clear_requests(self) -> None:
        self._service.request_log.clear()

    def stop(self) -> None:
        """Stop serving and close open connections. Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        logger.info("HubSpot emulator on %s stopped", self.base_url)

    def __enter__(self) -> HubSpotEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_hubspot_emulator(
    token: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    dataset: HubSpotDataset | None = None,
    rate_limit_per_second: int = 0,
    forbidden_tokens: Iterable[str] = (),
) -> HubSpotEmulator:
    """Start an emulator in a background thread and return its handle.

    ``token`` is the bearer token that API requests must send. Requests with one
    of ``forbidden_tokens`` get 403 MISSING_SCOPES. Port 0 picks a free port, and
    ``base_url`` gives the one chosen. ``rate_limit_per_second`` 0 turns the
    per-second limit off.
    """
    if not token:
        raise ValueError("token must be a non-empty string")
    service = HubSpotService(
        dataset if dataset is not None else HubSpotDataset(),
        token,
        rate_limit_per_second=rate_limit_per_second,
        forbidden_tokens=frozenset(forbidden_tokens),
    )
    server = _EmulatorHTTPServer((host, port), service)
    emulator = HubSpotEmulator(server, service)
    emulator._start()
    return emulator
