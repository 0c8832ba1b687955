"""Personal information is kept for a limited time (PIPL): ``retention`` (default 180 days)
after an item was found, its text, URL, title and author hash are purged — except the title
and link of an item an incident cites, so the incident's record still shows what it was about.
Rule hits, firings and set-aside items (kept as the source gave them, author included) older
than that are deleted with it.

A run is due a day after the last one (and at start when one fell due while the daemon was
down). Each run is one transaction that records when it ran: a crash in the middle leaves
nothing half-done, and the next start runs it again.
"""

from __future__ import annotations

import structlog

from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.retention")

DEFAULT_RETENTION = 180 * 86400.0
RUN_EVERY = 86400.0


class Retention:
    """The daily purge, a part of the scheduler."""

    def __init__(self, store: Store, clock: Clock, keep: float = DEFAULT_RETENTION) -> None:
        self.store = store
        self.clock = clock
        self.keep = keep  # seconds; set again on reload
        self._last: float | None = store.last_purge()

    def next_due(self) -> float | None:
        return self.clock.time() if self._last is None else self._last + RUN_EVERY

    def fire_due(self, now: float) -> int:
        """Purge what is older than ``keep`` when a run is due; how many rows changed."""
        if self._last is not None and now < self._last + RUN_EVERY:
            return 0
        with self.store.transaction():
            purged = self.store.purge(now - self.keep, now)
        self._last = now
        if purged.total:
            log.info("retention.purged", before=now - self.keep, items=purged.items,
                     stories=purged.stories, rule_hits=purged.rule_hits,
                     firings=purged.firings, dead_letters=purged.dead_letters)
        return 0  # nothing to deliver
