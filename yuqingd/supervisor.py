"""Runs plugin sources so that one broken plugin never takes the daemon down.

A source that raises is logged and started again after a growing back-off; one that neither
emits nor heartbeats within its stall budget (``stall_after``, plus its ``interval`` option or
its own ``stall_budget``, plus the quiet time it announced with ``ctx.sleep``) is cancelled and
started again. Health is kept per
source for STATUS and logs. (Core tasks are not supervised: their errors end the process and
systemd restarts it.)
"""

from __future__ import annotations

import httpx
import structlog
import trio

from yuqingd.backoff import backoff
from yuqingd.health import Health
from yuqingd.metrics import UNUSED, Meters
from yuqingd.model import Item
from yuqingd.sources import SourceContext, SourceKind, SourceSpec
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.supervisor")


__all__ = ["Health", "SourceSupervisor", "stall_budget"]


def stall_budget(spec: SourceSpec, source: object, stall_after: float) -> float:
    """Seconds a source may be silent: ``stall_after``, or more when the source declares a
    ``stall_budget`` or has an ``interval`` option (a poll every hour must not be "stalled"
    after 30 minutes)."""
    declared = getattr(source, "stall_budget", None)
    if isinstance(declared, int | float) and not isinstance(declared, bool) and declared > 0:
        return max(stall_after, float(declared))
    interval = getattr(spec.options, "interval", None)
    if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
        return stall_after + float(interval)
    return stall_after


class SourceSupervisor:
    def __init__(
        self,
        specs: tuple[SourceSpec, ...],
        kinds: dict[str, SourceKind],
        *,
        send: trio.MemorySendChannel,
        store: Store,
        clock: Clock,
        http: httpx.AsyncClient,
        stall_after: float,
        max_backoff: float,
        meters: Meters = UNUSED,
    ):
        self.meters = meters
        self.specs = specs
        self.kinds = kinds
        self.send = send
        self.store = store
        self.clock = clock
        self.http = http
        self.stall_after = stall_after
        self.max_backoff = max_backoff
        self.health = {spec.name: Health(kind=spec.kind) for spec in specs}
        self.cancel_scope = trio.CancelScope()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run every source until cancelled; closes this supervisor's send channel on exit."""
        async with self.send:
            with self.cancel_scope:
                async with trio.open_nursery() as nursery:
                    for spec in self.specs:
                        nursery.start_soon(self._supervise, spec, name=f"source:{spec.name}")
                    task_status.started()

    def stop(self) -> None:
        self.cancel_scope.cancel()

    async def _supervise(self, spec: SourceSpec) -> None:
        health = self.health[spec.name]
        failures = 0
        with structlog.contextvars.bound_contextvars(source=spec.name):
            while True:
                started = trio.current_time()
                error = await self._run_once(spec, health)
                if trio.current_time() - started >= self.max_backoff:
                    failures = 0  # it ran fine for a while: this is not a crash loop
                if error is None:
                    failures = 0
                    log.info("source.finished")
                    health.healthy = True
                    health.finished = True
                    return
                failures += 1
                self.meters.source_errors.labels(spec.name, "failed").inc()
                health.healthy = False
                health.restarts += 1
                health.last_error = error
                health.last_error_at = self.clock.time()
                wait = backoff(failures, self.max_backoff)
                health.restarting = True
                health.next_poll_at = self.clock.time() + wait
                log.error("source.failed", error=error, restart_in=wait, failures=failures)
                await trio.sleep(wait)
                health.restarting = False

    async def _run_once(self, spec: SourceSpec, health: Health) -> str | None:
        """Run the source once; returns an error description, or None if it returned."""
        async def emit(item: Item, cursor: str | None) -> None:
            # Cleaned here, in the plugin's task: text the store cannot encode must not reach
            # the pipeline (a crash there would repeat on the same item after every restart).
            await self.send.send((item.cleaned(source=spec.name), cursor, trio.current_time()))

        def dead_letter(where: str, reason: str, record: str) -> None:
            self.meters.source_errors.labels(spec.name, "bad_record").inc()
            try:
                with self.store.transaction():
                    self.store.add_dead_letter(self.clock.time(), spec.name, where, reason,
                                               {"record": record})
            except Exception:  # the log line above has said it already
                log.exception("source.dead_letter_not_stored", where=where)

        started = trio.current_time()
        health.plugin_state, health.message = "ok", None  # a restart starts afresh
        stalled = False
        budget = self.stall_after
        try:
            source = self.kinds[spec.kind].create(spec)
            budget = stall_budget(spec, source, self.stall_after)
            ctx = SourceContext(
                spec.name,
                cursor=self.store.cursor(spec.name),
                emit=emit,
                http=self.http,
                clock=self.clock,
                stall_budget=budget,
                log=log.bind(source=spec.name),
                health=health,
                dead_letter=dead_letter,
            )
            async with trio.open_nursery() as nursery:

                def deadline() -> float:
                    last = ctx._last_life if ctx._last_life is not None else started
                    return last + ctx._quiet_for + budget

                async def watch_stall() -> None:
                    nonlocal stalled
                    while True:
                        await trio.sleep_until(deadline())
                        if trio.current_time() >= deadline():
                            stalled = True
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(watch_stall)
                log.info("source.started", kind=spec.kind, cursor=ctx.cursor, stall_budget=budget)
                await source.run(ctx)
                nursery.cancel_scope.cancel()
        except Exception as exc:  # a plugin's bug must not take the daemon down
            return _describe(exc)
        if stalled:
            return f"stalled: no item or heartbeat for {budget:g}s"
        return None


def _describe(exc: BaseException) -> str:
    """The plugin's own error, not the nursery's ExceptionGroup around it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
