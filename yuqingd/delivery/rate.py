"""A channel's rate limit: how many sends the current window has left, and when the next one
is allowed. The outbox asks before sending; past the budget it waits or sends a digest, so
nothing is dropped (robots drop what exceeds their limit silently on their side)."""

from __future__ import annotations

from yuqingd.schema_types import Rate


class Limiter:
    """Sends in the last ``rate.per`` seconds, kept in memory (after a restart the window
    starts empty: at worst one window's worth more than the limit)."""

    def __init__(self, rate: Rate):
        self.rate = rate
        self._sent: list[float] = []

    def budget(self, now: float) -> int:
        """How many sends are allowed now."""
        self._sent = [t for t in self._sent if t > now - self.rate.per]
        return self.rate.count - len(self._sent)

    def free_at(self) -> float:
        """When the oldest send of the window leaves it (call when the budget is spent)."""
        return self._sent[0] + self.rate.per

    def sent(self, at: float) -> None:
        self._sent.append(at)
