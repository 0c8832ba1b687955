"""sd_notify and the watchdog, through systemd-python; silent when not started by systemd."""

from __future__ import annotations

import os

import structlog
import trio

from yuqingd.time.clock import monotonic_usec

log = structlog.get_logger("yuqingd.systemd")

try:
    from systemd import daemon as _sd_daemon
except ImportError:  # pragma: no cover - systemd-python is a dependency; keep running without
    _sd_daemon = None


class SystemdNotifier:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET")) and _sd_daemon is not None
        self._last_status: str | None = None

    def notify(self, *lines: str) -> None:
        if self.enabled:
            _sd_daemon.notify("\n".join(lines))

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd ≥ 253 (Type=notify-reload) tie this to the reload request.
        self.notify(
            "RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", "STATUS=重新加载配置… (reloading)"
        )

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=正在停止，处理剩余工作… (stopping, draining)")

    def status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self.notify(f"STATUS={text}")

    def watchdog_interval(self) -> float | None:
        """Half of WATCHDOG_USEC, when systemd asked this process for watchdog pings."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not self.enabled or not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 1e6 / 2
        except ValueError:
            return None

    async def run_watchdog(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Ping while the event loop is alive; a hung loop stops the pings and systemd acts."""
        interval = self.watchdog_interval()
        task_status.started()
        if interval is None:
            return
        log.info("watchdog.enabled", interval=interval)
        while True:
            self.notify("WATCHDOG=1")
            await trio.sleep(interval)
