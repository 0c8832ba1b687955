"""Delivery: one worker per notifier drains its part of the outbox, with retries and back-off.

A notification is marked delivered only after ``send`` returned; a crash in between means it is
sent again after restart with the same ``id``, which notifiers use to drop the repeat.
"""

from __future__ import annotations

import math

import structlog
import trio

from yuqingd.backoff import backoff
from yuqingd.model import Notification
from yuqingd.notifiers import Notifier, NotifierSpec
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock
from yuqingd.wakeup import Wakeup

log = structlog.get_logger("yuqingd.delivery")


class ChannelWorker:
    def __init__(
        self,
        spec: NotifierSpec,
        notifier: Notifier,
        store: Store,
        clock: Clock,
        timeout: float,
        max_backoff: float,
    ):
        self.spec = spec
        self.name = spec.name
        self.notifier = notifier
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.wakeup = Wakeup()
        self.last_error: str | None = None
        self.stopping = False
        self.running = False
        self.finished = trio.Event()
        self.cancel_scope = trio.CancelScope()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Deliver as notifications fall due; after :meth:`stop`, return once nothing is due."""
        self.running = True
        task_status.started()
        try:
            with self.cancel_scope:
                await self._loop()
        finally:
            self.finished.set()

    def stop(self) -> None:
        self.stopping = True
        self.wakeup.set()

    async def _loop(self) -> None:
        while True:
            await self.deliver_due()
            if self.stopping:
                return
            retry = self.store.next_retry(self.name)
            with trio.move_on_at(self.clock.trio_deadline(retry) if retry else math.inf):
                await self.wakeup.wait()

    async def deliver_due(self) -> int:
        """Try every notification due now; returns how many were delivered."""
        delivered = 0
        while rows := self.store.pending_outbox(self.name, self.clock.time()):
            for row in rows:
                notification = Notification.from_dict(row.payload)
                try:
                    with trio.fail_after(self.timeout):
                        await self.notifier.send(notification)
                except Exception as exc:  # a notifier plugin must not take delivery down
                    error = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, trio.TooSlowError):
                        error = f"timed out after {self.timeout:g}s"
                    wait = backoff(row.attempts + 1, self.max_backoff)
                    self.store.mark_failed(row.id, error, self.clock.time() + wait)
                    self.last_error = f"{self.name}: {error}"
                    log.error(
                        "notification.failed",
                        channel=self.name,
                        notification=row.id,
                        attempt=row.attempts + 1,
                        retry_in=wait,
                        error=error,
                    )
                else:
                    self.store.mark_delivered(row.id, self.clock.time())
                    self.last_error = None
                    delivered += 1
                    log.info(
                        "notification.delivered",
                        channel=self.name,
                        notification=row.id,
                        kind=notification.kind,
                        incident=notification.incident,
                        level=notification.level,
                    )
        return delivered


class Delivery:
    """The set of channel workers; rebuilt on reload when notifiers change."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self.workers: dict[str, ChannelWorker] = {}

    def wake(self) -> None:
        for worker in self.workers.values():
            worker.wakeup.set()

    async def drain(self) -> None:
        """Let every worker deliver what is due now, then stop (the caller bounds the time).
        Workers do this themselves, so nothing is sent twice by two tasks at once."""
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            await worker.finished.wait()

    @property
    def last_error(self) -> str | None:
        return next((w.last_error for w in self.workers.values() if w.last_error), None)
