"""The only module that reads real time.

Inside trio, wall time is derived from trio's clock: ``now = anchor_epoch + (trio.current_time()
- anchor_trio)``. Under trio's MockClock the whole daemon therefore moves through virtual days in
milliseconds, and deadlines stored as epoch seconds map back onto trio deadlines exactly.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import trio

DEFAULT_TIMEZONE = "Asia/Shanghai"


def wall_time() -> float:
    """Real epoch seconds, for code that runs outside the daemon's trio loop (CLI, logs)."""
    return time.time()


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as sd_notify's MONOTONIC_USEC wants it."""
    return time.monotonic_ns() // 1000


class Clock:
    """Wall time for the daemon, anchored to trio's clock at :meth:`start`."""

    def __init__(self, timezone: str = DEFAULT_TIMEZONE, *, start_epoch: float | None = None):
        self.tz = ZoneInfo(timezone)
        self._start_epoch = start_epoch
        self._anchor_epoch: float | None = None
        self._anchor_trio = 0.0

    def start(self) -> None:
        """Anchor to trio's clock; call once inside the trio run, before anything asks the time."""
        self._anchor_trio = trio.current_time()
        self._anchor_epoch = time.time() if self._start_epoch is None else self._start_epoch

    @property
    def live(self) -> bool:
        """True when following the real clock (not a fixed start, as in tests/simulation)."""
        return self._start_epoch is None

    def resync(self) -> float:
        """Re-anchor to the real clock (NTP steps, suspend); returns the correction in
        seconds. Does nothing for a clock with a fixed start."""
        if not self.live or self._anchor_epoch is None:
            return 0.0
        drift = time.time() - self.time()
        self._anchor_trio = trio.current_time()
        self._anchor_epoch = time.time()
        return drift

    def time(self) -> float:
        """Current epoch seconds (virtual under a MockClock)."""
        if self._anchor_epoch is None:
            return time.time()
        return self._anchor_epoch + (trio.current_time() - self._anchor_trio)

    def now(self) -> dt.datetime:
        """Current time as an aware datetime in the configured zone."""
        return self.to_datetime(self.time())

    def to_datetime(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, tz=self.tz)

    def format(self, epoch: float) -> str:
        """ISO 8601 with offset, the way every time is shown to a person."""
        return self.to_datetime(epoch).isoformat(timespec="seconds")

    def trio_deadline(self, epoch: float) -> float:
        """The trio clock value at which ``epoch`` is reached (in the past: already due)."""
        assert self._anchor_epoch is not None, "Clock.start() was not called"
        return self._anchor_trio + (epoch - self._anchor_epoch)

    async def sleep_until(self, epoch: float) -> None:
        await trio.sleep_until(self.trio_deadline(epoch))
