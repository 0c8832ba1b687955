"""The daemon's signals (SIGHUP reload, SIGTERM/SIGINT stop) as a trio channel.

Why not ``trio.open_signal_receiver``: when its block exits it re-raises every signal nobody
read, with the handler it replaced (the default) already back, and a callback still queued
for it raises the signal too. A stop is idempotent, so a second SIGTERM during the drain means
nothing — but the loop watchdog repeats SIGTERM every second while a plugin blocks the loop
(:mod:`yuqingd.watchdog`), and the repeat it sent during a clean drain then killed the process
with -15 at the very end (the CI failure of test_loop_watchdog). Here a signal that is not read
is dropped: after the first stop request there is nothing left for it to do.

The handlers stay installed after the run; they do nothing once the loop has finished, so a
late signal (from the watchdog or from outside) cannot end a process that has already drained.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Callable, Iterable
from types import FrameType

import trio

StopHook = Callable[[FrameType | None], None]


class SignalInbox:
    """Install with :meth:`install` on the main thread, inside ``trio.run``; iterate
    :attr:`received` for the signal numbers, in the order they came."""

    STOP = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, signums: Iterable[int], on_stop: StopHook | None = None):
        self.signums = tuple(signums)
        self.on_stop = on_stop
        send, self.received = trio.open_memory_channel[int](math.inf)
        self._send = send
        self._token: trio.lowlevel.TrioToken | None = None

    def install(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        for signum in self.signums:
            signal.signal(signum, self._handler)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread between two bytecodes of whatever the loop was doing:
        # only hand the number to the loop (run_sync_soon is safe to call from here).
        if self._token is not None:
            # After the run has finished there is nothing left to stop or reload.
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._deliver, signum)
        if signum in self.STOP and self.on_stop is not None:
            # After the loop was told: the watchdog may interrupt a plugin that blocks it.
            self.on_stop(frame)

    def _deliver(self, signum: int) -> None:
        # Closed: the daemon stopped listening, the stop is already under way.
        with contextlib.suppress(trio.ClosedResourceError):
            self._send.send_nowait(signum)

    def close(self) -> None:
        self._send.close()
