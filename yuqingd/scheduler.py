"""The task that fires everything due at a time: escalation deadlines, watch ends, flatline
checks, scheduled rules (on virtual time in tests and simulation)."""

from __future__ import annotations

import math
from typing import Protocol

import trio

from yuqingd.time.clock import Clock
from yuqingd.wakeup import Wakeup


class Timed(Protocol):
    def next_due(self) -> float | None:
        """Epoch seconds of the next thing due, or None."""
        ...

    def fire_due(self, now: float) -> int:
        """Act on everything due at ``now``; truthy (True, or how many fired) when something
        was written."""
        ...


class Scheduler:
    def __init__(self, clock: Clock, parts: list[Timed], on_fired):
        self.clock = clock
        self.parts = parts
        self.changed = Wakeup()  # set when something may have become due earlier
        self._on_fired = on_fired  # called after firing (wakes delivery)

    def fire_due(self) -> None:
        now = self.clock.time()
        if any([part.fire_due(now) for part in self.parts]):
            self._on_fired()

    def next_due(self) -> float | None:
        return min((d for d in (p.next_due() for p in self.parts) if d is not None),
                   default=None)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            # What fell due while the daemon was down fires right away.
            self.fire_due()
            due = self.next_due()
            with trio.move_on_at(self.clock.trio_deadline(due) if due is not None else math.inf):
                await self.changed.wait()
