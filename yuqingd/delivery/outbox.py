"""Delivery: one worker per notifier drains its part of the outbox, with retries and back-off.

A notification is marked delivered only after ``send`` returned; a crash in between means it is
sent again after restart with the same ``id``, which notifiers use to drop the repeat.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import structlog
import trio

from yuqingd.backoff import backoff
from yuqingd.delivery.fallback import Fallback
from yuqingd.delivery.rate import Limiter
from yuqingd.events import Events
from yuqingd.health import Health
from yuqingd.metrics import UNUSED, Meters
from yuqingd.model import Notification, Recipient
from yuqingd.notifiers import (
    DeliveryRejected,
    Notifier,
    NotifierContext,
    NotifierSpec,
    RetryAfter,
)
from yuqingd.schema_types import Rate
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
        *,
        http: httpx.AsyncClient | None = None,
        state_dir: Path | None = None,
        fallback: Fallback | None = None,
        meters: Meters = UNUSED,
    ):
        self.meters = meters
        self.spec = spec
        self.fallback = fallback  # moves people's notifications off this channel when it fails
        self._failing: bool | None = None  # None: unknown (the store knows, after a restart)
        self._fallback_at: float | None = None
        self.state_dir = state_dir
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
        self.health = Health(kind=spec.kind)
        self.http = http
        self.started = False  # the notifier's own start(ctx) has returned
        self._start_retry: float | None = None  # after a failed start, not before this
        self._rejected = False  # the last failure was a DeliveryRejected
        # The channel's ``rate_limit:``, else what the notifier declares as
        # ``rate_per_minute`` (the robots: 20); a backlog larger than what the window has left
        # goes as one digest.
        declared = getattr(notifier, "rate_per_minute", None)
        rate = spec.rate or (Rate(int(declared), 60.0) if declared else None)
        self.limiter = Limiter(rate) if rate is not None else None
        self._rate_until: float | None = None

    def context(self) -> NotifierContext:
        assert self.http is not None, "a notifier with start() needs the shared HTTP client"
        return NotifierContext(self.name, http=self.http, clock=self.clock, timeout=self.timeout,
                               log=log.bind(channel=self.name), health=self.health,
                               state_dir=self.state_dir)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Deliver as notifications fall due; after :meth:`stop`, return once nothing is due."""
        self.running = True
        task_status.started()
        try:
            with self.cancel_scope:
                await self._loop()
        finally:
            await self._close()
            self.finished.set()

    async def _start(self) -> bool:
        """The notifier's start(ctx), once; False (and a retry time set) when it raised."""
        if self.started:
            return True
        if self._start_retry is not None and self.clock.time() < self._start_retry:
            return False
        start = getattr(self.notifier, "start", None)
        if start is not None:
            try:
                with trio.fail_after(self.timeout):
                    await start(self.context())
            except Exception as exc:  # like a failed send: logged, retried after a back-off
                error = f"start: {type(exc).__name__}: {exc}"
                self.health.restarts += 1
                self._failed(error)
                self._start_retry = self.clock.time() + backoff(self.health.restarts,
                                                                self.max_backoff)
                self._channel_failed()
                log.error("notifier.start_failed", channel=self.name, error=error)
                return False
        self.started = True
        self.health.reported = True
        self.health.healthy = self.health.plugin_state != "failing"
        return True

    async def _close(self) -> None:
        close = getattr(self.notifier, "close", None)
        if not self.started or close is None:
            return
        self.started = False
        with trio.move_on_after(self.timeout, shield=True):
            try:
                await close()
            except Exception as exc:  # closing badly must not stop the retirement
                log.error("notifier.close_failed", channel=self.name,
                          error=f"{type(exc).__name__}: {exc}")

    def _channel_failed(self) -> None:
        """Remember in the store that the channel fails (its first failure since a success
        starts the time people's fallback is measured from)."""
        if self._failing is not True:
            self.store.channel_failed(self.name, self.clock.time())
            self._failing = True

    def _channel_ok(self) -> None:
        if self._failing is not False:
            self.store.channel_recovered(self.name)
            self._failing = False

    def _hand_over(self, *, before_trying: bool = False) -> None:
        """Move waiting notifications of people whose fallback time has come (see
        :mod:`yuqingd.delivery.fallback`); note when the next one's comes."""
        self._fallback_at = None
        if self.fallback is None:
            return
        if self._failing is None and before_trying:
            # Just (re)started: try the channel once first. It failed before the stop, but the
            # daemon may have been down for a day and the channel back for hours; the failing
            # time the store kept still counts if this try fails too.
            return
        if self._failing is None:  # first time since a (re)start: the store knows
            self._failing = self.store.channel_failing_since(self.name) is not None
        if self._failing:
            self._fallback_at = self.fallback.hand_over(self.name, self.clock.time())

    def _wake_at(self, at: float | None) -> float | None:
        """The earlier of ``at`` and the next fallback time."""
        if self._fallback_at is None:
            return at
        return self._fallback_at if at is None else min(at, self._fallback_at)

    def _failed(self, error: str) -> None:
        self.last_error = f"{self.name}: {error}"
        self.health.last_error = error
        self.health.last_error_at = self.clock.time()
        self.health.healthy = False

    def stop(self) -> None:
        self.stopping = True
        self.wakeup.set()

    async def _loop(self) -> None:
        while True:
            if not await self._start():
                if self.stopping:
                    return
                self._hand_over()
                retry_start = self._wake_at(self._start_retry or self.clock.time())
                assert retry_start is not None
                with trio.move_on_at(self.clock.trio_deadline(retry_start)):
                    await self.wakeup.wait()
                continue
            await self.deliver_due()
            if self.stopping:
                return
            self._hand_over()
            retry = self.store.next_retry(self.name)
            if self._rate_until is not None:
                retry = min(retry, self._rate_until) if retry else self._rate_until
            retry = self._wake_at(retry)
            with trio.move_on_at(self.clock.trio_deadline(retry) if retry else math.inf):
                await self.wakeup.wait()

    async def deliver_due(self) -> int:
        """Try every notification due now; returns how many were delivered."""
        delivered = 0
        self._rate_until = None
        # before trying: a channel failing long enough is not tried again for them
        self._hand_over(before_trying=True)
        while rows := self.store.pending_outbox(self.name, self.clock.time()):
            batches: list[tuple[list[str], Notification]] = [
                ([row.id], Notification.from_dict(row.payload)) for row in rows]
            if self.limiter is not None:
                budget = self.limiter.budget(self.clock.time())
                if budget <= 0:
                    self._rate_until = self.limiter.free_at()
                    return delivered
                if len(rows) > budget:  # a burst: everything waiting as one message
                    batches = [([r.id for r in rows],
                                digest([n for _, n in batches]))]
            for ids, notification in batches:
                row = next(r for r in rows if r.id == ids[0])
                try:
                    with trio.fail_after(self.timeout):
                        await self.notifier.send(notification)
                except Exception as exc:  # a notifier plugin must not take delivery down
                    error = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, trio.TooSlowError):
                        error = f"timed out after {self.timeout:g}s"
                    wait = backoff(row.attempts + 1, self.max_backoff)
                    if isinstance(exc, RetryAfter):  # asked to slow down: not a failure
                        wait = max(exc.seconds, 1.0)
                    elif isinstance(exc, DeliveryRejected):  # a configuration error
                        wait = self.max_backoff
                        self.health.set_by_plugin("failing", str(exc))
                        self._rejected = True
                    for failed_id in ids:
                        self.store.mark_failed(failed_id, error, self.clock.time() + wait)
                    outcome = ("retry_later" if isinstance(exc, RetryAfter) else "rejected"
                               if isinstance(exc, DeliveryRejected) else "failed")
                    self.meters.notifications.labels(self.name, outcome).inc(len(ids))
                    if not isinstance(exc, RetryAfter):
                        self._failed(error)
                    self._channel_failed()  # asked to wait or not, it does not reach people
                    log.error(
                        "notification.failed",
                        channel=self.name,
                        notification=row.id,
                        attempt=row.attempts + 1,
                        retry_in=wait,
                        error=error,
                    )
                    if isinstance(exc, RetryAfter | DeliveryRejected):
                        # the service refuses every message for now: the rest wait their turn
                        # (and keep their order) instead of each being refused in turn
                        return delivered
                else:
                    for delivered_id in ids:
                        self.store.mark_delivered(delivered_id, self.clock.time())
                    self.meters.notifications.labels(self.name, "delivered").inc(len(ids))
                    self._channel_ok()
                    if self.limiter is not None:
                        self.limiter.sent(self.clock.time())
                    if self._rejected:  # the failing state was ours: the fix took effect
                        self._rejected = False
                        if self.health.plugin_state == "failing":
                            self.health.set_by_plugin("ok", None)
                    self.last_error = None
                    self.health.reported = True
                    self.health.healthy = self.health.plugin_state != "failing"
                    self.health.last_item_at = self.clock.time()
                    self.health.delivered += len(ids)
                    delivered += len(ids)
                    log.info(
                        "notification.delivered",
                        channel=self.name,
                        notification=row.id,
                        kind=notification.kind,
                        incident=notification.incident,
                        level=notification.level,
                    )
        return delivered


def digest(notifications: list[Notification]) -> Notification:
    """Several waiting notifications of one channel as one message (rate limit reached): the
    id is made from theirs, so a repeat after a crash carries the same idempotency key."""
    first = notifications[0]
    count = len(notifications)
    title = f"{count} 条通知汇总：{first.title}等"
    text = f"【汇总】{count} 条通知（发送频率已达上限，合并发送）\n\n" + "\n\n".join(
        n.text for n in notifications)
    people: dict[tuple[str, str], Recipient] = {}
    for n in notifications:
        for r in n.to:
            people.setdefault((r.role, r.person), r)
    return Notification(
        id=f"digest:{first.id}+{count - 1}", kind="digest", channel=first.channel,
        incident=",".join(dict.fromkeys(n.incident for n in notifications)), rule=first.rule,
        title=title, severity=max((n for n in notifications), key=lambda n: n.level).severity,
        level=max(n.level for n in notifications), to=tuple(people.values()),
        at=notifications[-1].at, text=text,
        items=tuple(i for n in notifications for i in n.items),
        deadlines=tuple(d for n in notifications for d in n.deadlines),
        actions=tuple(a for n in notifications for a in n.actions), key=first.key)


class Delivery:
    """The set of channel workers; rebuilt on reload when notifiers change."""

    def __init__(self, store: Store, clock: Clock, events: Events | None = None):
        self.store = store
        self.clock = clock
        self.workers: dict[str, ChannelWorker] = {}
        self.fallback = Fallback(store, events, self.wake_channel)

    def wake(self) -> None:
        for worker in self.workers.values():
            worker.wakeup.set()

    def wake_channel(self, channel: str) -> None:
        """Wake one channel's worker (a person's notifications were moved to it)."""
        worker = self.workers.get(channel)
        if worker is not None:
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
