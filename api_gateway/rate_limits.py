"""In-memory sliding-window rate limits of the gateway.

Each limiter keeps the times of the recent events per key (an address, a webhook token hash) and
allows at most ``limit`` events in any ``window_seconds``. State lives in the gateway process, so
with several gateway processes each one counts on its own and the effective limit is multiplied.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from litestar.exceptions import TooManyRequestsException

# Failed authentications per client address per minute before further requests get 429.
AUTH_FAILURES_PER_MINUTE = 20
# Webhook deliveries per token per minute before further deliveries get 429.
WEBHOOK_DELIVERIES_PER_MINUTE = 60
WINDOW_SECONDS = 60.0
# Maximum keys tracked per limiter. Beyond it the least recently used key is dropped, which bounds
# memory when many addresses or tokens are seen.
MAX_TRACKED_KEYS = 100_000


class SlidingWindowLimiter:
    """Allow at most ``limit`` events per key in any window of ``window_seconds``. Thread-safe."""

    def __init__(
        self,
        limit: int,
        window_seconds: float = WINDOW_SECONDS,
        *,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(f"limit must be at least 1 and window_seconds positive, not {limit} and {window_seconds}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str) -> int | None:
        """Count one event for ``key`` and return None, or return the seconds to wait when the limit is reached.

        A rejected event is not counted, so a flood does not extend its own wait.
        """
        with self._lock:
            now = self._clock()
            events = self._recent(key, now)
            if len(events) >= self.limit:
                return self._wait_seconds(events, now)
            events.append(now)
            return None

    def retry_after(self, key: str) -> int | None:
        """Return the seconds to wait when ``key`` is at its limit, else None, without counting an event."""
        with self._lock:
            if key not in self._events:
                return None
            now = self._clock()
            events = self._recent(key, now)
            return self._wait_seconds(events, now) if len(events) >= self.limit else None

    def record(self, key: str) -> None:
        """Count one event for ``key`` whatever its current count."""
        with self._lock:
            now = self._clock()
            self._recent(key, now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._events.clear()

    def _recent(self, key: str, now: float) -> deque[float]:
        """Return the key's events inside the window, creating its entry (and evicting the oldest key) when new."""
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        cutoff = now - self.window_seconds
        while events and events[0] <= cutoff:
            events.popleft()
        return events

    def _wait_seconds(self, events: deque[float], now: float) -> int:
        # The oldest event leaves the window first; whole seconds, because Retry-After has no fractions.
        return max(1, math.ceil(events[0] + self.window_seconds - now))


def too_many_requests(retry_after_seconds: int) -> TooManyRequestsException:
    """Return the 429 error; the gateway's handler wraps it in the error envelope with ``Retry-After``."""
    return TooManyRequestsException(headers={"Retry-After": str(retry_after_seconds)})


# Shared by the webhook endpoint, which calls ``webhook_limiter.check(key)`` once per delivery with
# the token's hash as key and responds 429 with the returned seconds when they are not None.
webhook_limiter = SlidingWindowLimiter(WEBHOOK_DELIVERIES_PER_MINUTE)
