"""Runs plugin sources so that one broken plugin never takes the daemon down.

A source that raises is logged and started again after a growing back-off; one that neither
emits nor heartbeats for ``stall_after`` is cancelled and started again. Health is kept per
source for STATUS and logs. (Core tasks are not supervised: their errors end the process and
systemd restarts it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog
import trio

from yuqingd.backoff import backoff
from yuqingd.model import Item
from yuqingd.sources import SourceContext, SourceKind, SourceSpec
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.supervisor")


@dataclass
class Health:
    healthy: bool = False
    restarts: int = 0
    last_error: str | None = None


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
    ):
        self.specs = specs
        self.kinds = kinds
        self.send = send
        self.store = store
        self.clock = clock
        self.http = http
        self.stall_after = stall_after
        self.max_backoff = max_backoff
        self.health = {spec.name: Health() for spec in specs}
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
                    return
                failures += 1
                health.healthy = False
                health.restarts += 1
                health.last_error = error
                wait = backoff(failures, self.max_backoff)
                log.error("source.failed", error=error, restart_in=wait, failures=failures)
                await trio.sleep(wait)

    async def _run_once(self, spec: SourceSpec, health: Health) -> str | None:
        """Run the source once; returns an error description, or None if it returned."""
        last_life = trio.current_time()

        def heartbeat() -> None:
            nonlocal last_life
            last_life = trio.current_time()
            health.healthy = True

        async def emit(item: Item, cursor: str | None) -> None:
            # Cleaned here, in the plugin's task: text the store cannot encode must not reach
            # the pipeline (a crash there would repeat on the same item after every restart).
            await self.send.send((item.cleaned(source=spec.name), cursor))

        ctx = SourceContext(
            spec.name,
            cursor=self.store.cursor(spec.name),
            emit=emit,
            heartbeat=heartbeat,
            http=self.http,
            clock=self.clock,
        )
        stalled = False
        try:
            async with trio.open_nursery() as nursery:

                async def watch_stall() -> None:
                    nonlocal stalled
                    while True:
                        await trio.sleep_until(last_life + self.stall_after)
                        if trio.current_time() >= last_life + self.stall_after:
                            stalled = True
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(watch_stall)
                source = self.kinds[spec.kind].create(spec)
                log.info("source.started", kind=spec.kind, cursor=ctx.cursor)
                await source.run(ctx)
                nursery.cancel_scope.cancel()
        except Exception as exc:  # a plugin's bug must not take the daemon down
            return _describe(exc)
        if stalled:
            return f"stalled: no item or heartbeat for {self.stall_after:g}s"
        return None


def _describe(exc: BaseException) -> str:
    """The plugin's own error, not the nursery's ExceptionGroup around it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
