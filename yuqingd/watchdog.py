"""A thread that notices when the trio event loop is blocked, and what blocks it.

Everything the daemon does runs on one trio thread; a plugin that calls ``time.sleep`` or spins
in ``run`` freezes it whole. This thread asks the loop to run a no-op callback every ``tick``;
when one has waited ``limit`` seconds (the config's ``watchdog``, default 10 s), the loop is
*blocked*: the thread logs the loop thread's stack (``watchdog.loop_blocked``, faulthandler
style), names the plugin whose code is on it, quarantines that plugin in the state directory
(yuqingd.quarantine), and stops the systemd watchdog pings it otherwise sends every
``WATCHDOG_USEC/2`` (and sends ``WATCHDOG=trigger``), so systemd restarts the unit at once. The
restarted daemon runs everything but the quarantined plugin.

SIGTERM/SIGINT while the loop is blocked: the handler runs in the loop thread between two Python
bytecodes of the blocking code (also inside ``time.sleep`` or a blocking socket call, which
Python interrupts for signals). When the loop is blocked and a plugin is on the stack, the
handler raises :class:`PluginInterrupted` there; the plugin's task fails like any plugin error,
the loop runs again and the daemon drains as usual. If the loop is still blocked
``shutdown_grace`` after the signal (C code that never returns to Python, or a plugin that
swallows the exception), the thread logs the stack and ends the process with exit status 70
(EX_SOFTWARE) — like ``kill -9``, nothing committed is lost.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import trio

from yuqingd import quarantine
from yuqingd.systemd import SystemdNotifier
from yuqingd.time.clock import monotonic_usec, wall_time

log = structlog.get_logger("yuqingd.watchdog")

EX_SOFTWARE = 70
SIGNAL_BLOCKED_AFTER = 0.5  # a callback waiting this long: a signal finds the loop blocked


def _now() -> float:
    return monotonic_usec() / 1e6


class PluginInterrupted(Exception):
    """Raised inside a plugin that blocks the event loop when the daemon is told to stop."""


def format_stack(frame: FrameType | None) -> str:
    """The stack from ``frame`` outwards, most recent call first (as faulthandler prints it)."""
    lines = ["Stack of the event loop thread (most recent call first):"]
    while frame is not None:
        lines.append(f'  File "{frame.f_code.co_filename}", line {frame.f_lineno} '
                     f"in {frame.f_code.co_name}")
        frame = frame.f_back
    return "\n".join(lines)


def plugin_on_stack(frame: FrameType | None, modules: dict[str, str]) -> tuple[str, str] | None:
    """(plugin name, 'File …, line N in f') of the innermost frame in a plugin's module."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        for prefix, plugin in modules.items():
            if module == prefix or module.startswith(prefix + "."):
                return plugin, (f'File "{frame.f_code.co_filename}", line {frame.f_lineno} '
                                f"in {frame.f_code.co_name}")
        frame = frame.f_back
    return None


class LoopWatchdog:
    def __init__(self, *, limit: float, notifier: SystemdNotifier, modules: dict[str, str],
                 state_dir: Path, grace: float):
        self.limit = limit
        self.notifier = notifier
        self.ping_every = notifier.watchdog_interval()
        # Check ten times per limit, at most a second apart, and often enough to ping in time.
        self.tick = min(limit / 10, 1.0, self.ping_every / 2 if self.ping_every else 1.0)
        self.modules = modules
        self.state_dir = state_dir
        self.grace = grace
        self.blocked: tuple[str | None, float] | None = None  # (plugin, seconds), once seen
        self._pending_since: float | None = None
        self._stop_requested_at: float | None = None
        self._stopped = threading.Event()
        # Held around every signal the thread sends to the loop thread, and by stop(): once
        # stop() returns no SIGTERM can follow, even if the thread is slow to end. (The
        # daemon's handlers drop a late one anyway: yuqingd.signal_inbox.)
        self._signalling = threading.Lock()
        self._thread: threading.Thread | None = None
        self._token: Any = None
        self._loop_thread = 0

    # the loop side ------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching the trio run this is called from."""
        self._token = trio.lowlevel.current_trio_token()
        self._loop_thread = threading.get_ident()
        self._thread = threading.Thread(target=self._watch, name="yuqingd-watchdog", daemon=True)
        self._thread.start()
        log.info("watchdog.started", limit=self.limit, systemd_pings=self.ping_every)

    def stop(self) -> None:
        with self._signalling:
            self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _ran(self) -> None:
        self._pending_since = None

    def waiting(self) -> float:
        """Seconds the loop has left a callback waiting (0 when it keeps up)."""
        since = self._pending_since
        return 0.0 if since is None else max(0.0, _now() - since)

    def on_stop_signal(self, frame: FrameType | None) -> None:
        """Called from the SIGTERM/SIGINT handler, on the loop thread, after the loop was told."""
        if self._stop_requested_at is None:
            self._stop_requested_at = _now()
        if self.waiting() < SIGNAL_BLOCKED_AFTER:
            return  # the loop runs: it handles the stop itself
        found = plugin_on_stack(frame, self.modules)
        if found is not None:
            log.error("watchdog.interrupting_plugin", plugin=found[0], where=found[1])
            raise PluginInterrupted(f"yuqingd is stopping and plugin '{found[0]}' blocked "
                                    "the event loop")

    # the thread ---------------------------------------------------------------------------

    def _watch(self) -> None:
        next_ping = 0.0
        next_interrupt = 0.0
        while not self._stopped.wait(self.tick):
            now = _now()
            if self._pending_since is None:
                self._pending_since = now
                try:
                    self._token.run_sync_soon(self._ran)
                except trio.RunFinishedError:
                    return
            waited = self.waiting()
            if waited >= self.limit and self.blocked is None:
                self._report(waited)
            if self.ping_every is not None and self.blocked is None and now >= next_ping:
                self.notifier.notify("WATCHDOG=1")
                next_ping = now + self.ping_every
            stop_at = self._stop_requested_at
            if stop_at is not None and waited >= SIGNAL_BLOCKED_AFTER:
                if now - stop_at >= self.grace:
                    self._give_up(waited)
                elif now >= next_interrupt:
                    # The first signal may have come before the loop looked blocked.
                    next_interrupt = now + 1.0
                    with self._signalling:
                        if self._stopped.is_set():
                            return
                        signal.pthread_kill(self._loop_thread, signal.SIGTERM)

    def _frame(self) -> FrameType | None:
        return sys._current_frames().get(self._loop_thread)

    def _report(self, waited: float) -> None:
        frame = self._frame()
        found = plugin_on_stack(frame, self.modules)
        plugin = found[0] if found else None
        self.blocked = (plugin, waited)
        log.error("watchdog.loop_blocked", blocked_for=round(waited, 1), plugin=plugin,
                  where=found[1] if found else None, stack=format_stack(frame))
        if found is not None:
            try:
                quarantine.add(self.state_dir, quarantine.Quarantined(
                    plugin=found[0], at=wall_time(), blocked_for=round(waited, 1),
                    where=found[1]))
            except OSError as exc:
                log.error("quarantine.write_failed", error=f"{type(exc).__name__}: {exc}")
            else:
                log.error("plugin.quarantined", plugin=found[0],
                          note="not run after the restart; `yuqingd plugins enable` clears it")
        if self.ping_every is not None:
            # No more pings; and tell systemd now rather than when WatchdogSec runs out.
            self.notifier.notify("WATCHDOG=trigger")

    def _give_up(self, waited: float) -> None:
        log.error("daemon.stop_blocked", blocked_for=round(waited, 1), grace=self.grace,
                  stack=format_stack(self._frame()), exit_status=EX_SOFTWARE)
        self.notifier.notify("STOPPING=1")
        os._exit(EX_SOFTWARE)
