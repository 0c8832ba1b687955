"""The task that fires escalation deadlines on time (virtual time in tests)."""

from __future__ import annotations

import math

import trio

from yuqingd.clock import Clock
from yuqingd.escalation.incidents import Escalation
from yuqingd.wakeup import Wakeup


class DeadlineScheduler:
    def __init__(self, escalation: Escalation, clock: Clock, on_fired):
        self.escalation = escalation
        self.clock = clock
        self.changed = Wakeup()  # set when a deadline may have been added
        self._on_fired = on_fired  # called after deadlines fired (wakes delivery)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            # Deadlines already due (for instance while the daemon was down) fire right away.
            if self.escalation.fire_due(self.clock.time()):
                self._on_fired()
            due = self.escalation.store.next_deadline()
            with trio.move_on_at(self.clock.trio_deadline(due) if due is not None else math.inf):
                await self.changed.wait()
