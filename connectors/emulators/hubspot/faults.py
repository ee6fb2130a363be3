"""Scripted fault injection and the request log used by client tests."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

REQUEST_LOG_SIZE = 10_000


@dataclass
class Fault:
    """A scripted deviation applied to the requests that match ``path_prefix`` and ``method``.

    A fault with ``status`` responds with that status, ``body`` and ``headers``
    in place of the normal response. ``delay_seconds`` waits before responding.
    ``repeat_after`` makes the response offer the request's own ``after`` cursor
    as the next page. A repeat_after fault only counts requests that carry an
    ``after`` cursor, because a first-page request has no cursor to repeat.

    The fault skips its first ``after_requests`` matching requests, then applies
    to the next ``times`` of them (every one when ``times`` is None).
    """

    id: int
    path_prefix: str
    method: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    after_requests: int = 0
    repeat_after: bool = False
    delay_seconds: float = 0.0
    matched: int = 0
    applied: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path_prefix": self.path_prefix,
            "method": self.method,
            "status": self.status,
            "body": self.body,
            "headers": dict(self.headers),
            "times": self.times,
            "after_requests": self.after_requests,
            "repeat_after": self.repeat_after,
            "delay_seconds": self.delay_seconds,
            "matched": self.matched,
            "applied": self.applied,
        }

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.applied >= self.times


@dataclass(frozen=True)
class FaultOutcome:
    """Changes that the faults triggered by one request make to its response."""

    response: Fault | None = None
    delay_seconds: float = 0.0
    repeat_after: bool = False


def _int_field(spec: dict[str, Any], name: str, default: int | None, minimum: int) -> int | None:
    value = spec.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


def build_fault(fault_id: int, spec: dict[str, Any]) -> Fault:
    """Validate a fault description (the JSON body of ``POST /_emulator/faults``). Raises ValueError."""
    known = {"path_prefix", "method", "status", "body", "headers", "times", "after_requests", "repeat_after",
             "delay_seconds"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(unknown)}. Expected some of {', '.join(sorted(known))}")

    path_prefix = spec.get("path_prefix", "/crm/")
    if not isinstance(path_prefix, str) or not path_prefix.startswith("/"):
        raise ValueError(f"path_prefix must be a path starting with '/', got {path_prefix!r}")
    if path_prefix.startswith("/_emulator"):
        raise ValueError("faults cannot apply to the /_emulator/ control API")
    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError(f"method must be a string such as 'GET' or null, got {method!r}")

    status = spec.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        raise ValueError(f"status must be an HTTP status code between 100 and 599, got {status!r}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("headers must map header names to string values")
    delay = spec.get("delay_seconds", 0.0) or 0.0
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError(f"delay_seconds must be a non-negative number, got {delay!r}")
    repeat_after = spec.get("repeat_after", False)
    if not isinstance(repeat_after, bool):
        raise ValueError(f"repeat_after must be true or false, got {repeat_after!r}")
    if repeat_after and status is not None:
        raise ValueError("repeat_after changes the normal response, so it cannot be combined with status")
    if status is None and not repeat_after and delay == 0:
        raise ValueError("a fault needs at least one of status, repeat_after or delay_seconds")

    return Fault(
        id=fault_id,
        path_prefix=path_prefix,
        method=method.upper() if method else None,
        status=status,
        body=spec.get("body"),
        headers=dict(headers),
        times=_int_field(spec, "times", 1, 1),
        after_requests=_int_field(spec, "after_requests", 0, 0) or 0,
        repeat_after=repeat_after,
        delay_seconds=float(delay),
    )


class FaultRegistry:
    """Thread-safe list of active faults, applied in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        with self._lock:
            fault = build_fault(self._next_id, spec)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def apply(self, method: str, path: str, has_after: bool) -> FaultOutcome | None:
        """Count this request against every matching fault and return what the triggered ones change.

        Returns None when no fault triggers. When several faults with a status
        trigger, the oldest one provides the response. Delays of all triggered faults add up.
        """
        response: Fault | None = None
        delay = 0.0
        repeat_after = False
        triggered = False
        with self._lock:
            for fault in self._faults:
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.repeat_after and not has_after:
                    continue
                fault.matched += 1
                if fault.matched <= fault.after_requests or fault.exhausted:
                    continue
                fault.applied += 1
                triggered = True
                delay += fault.delay_seconds
                repeat_after = repeat_after or fault.repeat_after
                if fault.status is not None and response is None:
                    response = fault
            self._faults = [fault for fault in self._faults if not fault.exhausted]
        if not triggered:
            return None
        return FaultOutcome(response=response, delay_seconds=delay, repeat_after=repeat_after)


class RequestLog:
    """Thread-safe log of the last ``REQUEST_LOG_SIZE`` API requests."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
