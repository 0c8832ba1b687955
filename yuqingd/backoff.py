"""The retry back-off shared by the source supervisor and the notification outbox."""


def backoff(attempt: int, maximum: float) -> float:
    """Seconds to wait before retry number ``attempt`` (2, 4, 8 … capped at ``maximum``)."""
    return min(maximum, 2.0 ** min(max(attempt, 1), 30))
