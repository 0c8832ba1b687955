"""A sticky wake-up flag: set from anywhere on the trio thread, awaited by one task."""

from __future__ import annotations

import trio


class Wakeup:
    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        """Return once :meth:`set` has been called since the last wait returned."""
        await self._event.wait()
        self._event = trio.Event()
