"""Per-second request limit, like HubSpot's SECONDLY rate-limit policy."""

from __future__ import annotations

import threading
import time
from collections import deque

# Values sent in HubSpot's ten-second and daily rate-limit headers. The emulator
# does not enforce them, so they only give clients that read the headers something to parse.
TEN_SECOND_MAX = 190
DAILY_MAX = 1_000_000


class SecondlyLimiter:
    """Sliding one-second window. A limit of 0 turns limiting off.

    Only accepted requests count, so a client that keeps retrying at once
    gets through as soon as the window has room again.
    """

    def __init__(self, limit_per_second: int) -> None:
        if isinstance(limit_per_second, bool) or not isinstance(limit_per_second, int) or limit_per_second < 0:
            raise ValueError(f"rate limit must be a non-negative integer, got {limit_per_second!r}")
        self.limit = limit_per_second
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()

    def acquire(self) -> int | None:
        """Count a request. Return the remaining allowance, or None when the request is over the limit.

        With limiting off, returns 0 after counting nothing.
        """
        if self.limit == 0:
            return 0
        now = time.monotonic()
        with self._lock:
            while self._accepted and now - self._accepted[0] >= 1.0:
                self._accepted.popleft()
            if len(self._accepted) >= self.limit:
                return None
            self._accepted.append(now)
            return self.limit - len(self._accepted)

    def headers(self, remaining: int | None) -> list[tuple[str, str]]:
        """Return HubSpot's rate-limit headers for a response."""
        headers = [
            ("X-HubSpot-RateLimit-Daily", str(DAILY_MAX)),
            ("X-HubSpot-RateLimit-Daily-Remaining", str(DAILY_MAX - 1)),
            ("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
            ("X-HubSpot-RateLimit-Max", str(TEN_SECOND_MAX)),
            ("X-HubSpot-RateLimit-Remaining", str(TEN_SECOND_MAX - 1)),
        ]
        if self.limit:
            headers.append(("X-HubSpot-RateLimit-Secondly", str(self.limit)))
            headers.append(("X-HubSpot-RateLimit-Secondly-Remaining", str(remaining or 0)))
        return headers
