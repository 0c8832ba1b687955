"""Failed attempts per client address (a wrong bearer token, a forged link): after too many in
a window the address is refused with 429 and ``Retry-After`` until the oldest ages out.

Only failures count, so a person using a good token or link is never slowed down by their own
use. The address is the peer of the TCP connection: behind a reverse proxy every client shares
the proxy's address (``X-Forwarded-For`` is not trusted), so the proxy should limit too.
"""

from __future__ import annotations

import math
from collections import deque

MAX_FAILURES = 10
WINDOW = 600.0  # seconds
MAX_CLIENTS = 10_000  # addresses remembered; beyond, the least recently failing are forgotten


class FailureLimiter:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 max_clients: int = MAX_CLIENTS):
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str, now: float) -> int | None:
        """Seconds until ``client`` may try again; None when it may now."""
        times = self._recent(client, now)
        if not times:
            self._failures.pop(client, None)
            return None
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[-self.max_failures] + self.window - now))

    def failed(self, client: str, now: float) -> None:
        """Count one failed attempt of ``client``."""
        times = self._recent(client, now)
        times.append(now)
        self._failures.pop(client, None)  # re-insert: dict order is least recently failing first
        self._failures[client] = times
        while len(self._failures) > self.max_clients:
            del self._failures[next(iter(self._failures))]
