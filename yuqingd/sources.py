"""What a source plugin provides and what it gets from the core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pydantic
import structlog
import trio

from yuqingd.health import HEALTH_STATES, Health
from yuqingd.model import Item
from yuqingd.time.clock import Clock

__all__ = ["HEALTH_STATES", "Source", "SourceContext", "SourceKind", "SourceSpec"]

DEFAULT_STALL_BUDGET = 1800.0  # supervisor.stall_after's default


class Source(Protocol):
    async def run(self, ctx: SourceContext) -> None:
        """Fetch items forever, handing each to ``ctx.emit``. Raising is fine: the core logs,
        backs off and runs it again from the last committed cursor."""


@dataclass(frozen=True)
class SourceSpec:
    """One ``sources:`` entry of the config, validated by the kind's options model."""

    name: str
    kind: str
    options: Any  # an instance of the kind's options model
    base_dir: Path  # relative paths in options are relative to the config file's folder


@dataclass(frozen=True)
class SourceKind:
    """A kind of source (``replay``, ``rss`` …) a plugin offers."""

    name: str
    options: type[pydantic.BaseModel]  # extra='forbid' so typos are reported with a location
    create: Callable[[SourceSpec], Source]
    description: str = ""


class SourceContext:
    """Handed to ``Source.run``: where items go and what the core shares with the source.

    ``stall_budget`` is how long the source may go without ``emit`` or ``heartbeat`` before the
    supervisor cancels and restarts it (``supervisor.stall_after``, plus the source's
    ``interval`` option when it has one). A source that sleeps between polls says so with
    :meth:`sleep` (or ``heartbeat(quiet_for=...)``), and the quiet time is added to the budget.
    """

    def __init__(
        self,
        name: str,
        *,
        cursor: str | None,
        emit: Callable[[Item, str | None], Awaitable[None]],
        heartbeat: Callable[[], object] | None = None,
        http: httpx.AsyncClient,
        clock: Clock,
        stall_budget: float = DEFAULT_STALL_BUDGET,
        log: Any = None,
        health: Health | None = None,
        dead_letter: Callable[[str, str, str], object] | None = None,
    ):
        self.name = name
        self._dead_letter = dead_letter
        self.cursor = cursor  # the last cursor committed with an item of this source, or None
        self._emit = emit
        self._on_life = heartbeat or (lambda: None)
        self.http = http  # shared with every plugin: do not close it
        self.clock = clock
        self.stall_budget = stall_budget
        self.log = log if log is not None else structlog.get_logger("yuqingd.source").bind(
            source=name)
        self._health = health if health is not None else Health()
        self._quiet_for = 0.0  # what the last heartbeat announced
        self._last_life: float | None = None  # trio time of the last sign of life

    def heartbeat(self, *, quiet_for: float = 0.0) -> None:
        """Show life. ``quiet_for``: seconds the source will now be silent on purpose (the wait
        until its next poll); the supervisor allows them on top of ``stall_budget``."""
        self._last_life = trio.current_time()
        self._quiet_for = max(0.0, float(quiet_for))
        self._health.reported = True
        self._health.healthy = self._health.plugin_state != "failing"
        self._health.next_poll_at = self.clock.time() + quiet_for if quiet_for > 0 else None
        self._on_life()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` until the next poll without being taken for stalled."""
        self.heartbeat(quiet_for=seconds)
        await trio.sleep(seconds)

    def set_health(self, state: str, message: str | None = None) -> None:
        """Say how the source is: ``ok``, ``degraded`` (works, needs attention) or ``failing``
        (cannot fetch, e.g. a login expired), with a Chinese message for the people who read
        ``yuqingd status``. It stays until the next call; a restart resets it to ``ok``."""
        self._health.set_by_plugin(state, message)

    def reject(self, where: str, reason: str, record: bytes | str = "") -> None:
        """Set aside a record that cannot become an item (``where``: ``file:line`` or the URL;
        ``reason``: why, for people), kept as a dead letter with its first bytes, and go on
        with the next record. Raising instead would restart the source on the same record."""
        text = record.decode("utf-8", "replace") if isinstance(record, bytes) else str(record)
        self.log.error("source.dead_letter", where=where, reason=reason)
        if self._dead_letter is not None:
            self._dead_letter(where, reason, text[:4096])

    async def emit(self, item: Item, cursor: str | None = None) -> None:
        """Hand ``item`` to the pipeline; ``cursor`` is stored with it in the same transaction,
        and is what ``ctx.cursor`` holds after a restart. Blocks when the pipeline is behind."""
        self.heartbeat()
        await self._emit(item, cursor)
        self._health.last_item_at = self.clock.time()
        if cursor is not None:
            self.cursor = cursor
