"""Domain events (incident opened, escalated, notification, watch started …) as they happen.

The daemon logs them; ``yuqingd simulate`` and ``yuqingd test-rules`` collect them. Each event
is a flat dict with ``at`` (epoch seconds) and ``event`` (its kind).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Observer = Callable[[dict[str, Any]], None]


class Events:
    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def emit(self, event: str, at: float, **fields: Any) -> None:
        record = {"at": at, "event": event, **fields}
        for observer in self._observers:
            observer(record)
