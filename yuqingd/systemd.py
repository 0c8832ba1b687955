"""sd_notify and the watchdog; silent when not started by systemd.

The notify protocol is one datagram per message to ``$NOTIFY_SOCKET``. It is sent here on a
non-blocking socket, because a manager that does not read (a stalled systemd, an inherited
``NOTIFY_SOCKET`` nobody listens on) fills the socket's queue after about ten messages, and a
blocking send would then freeze the event loop. What a full queue costs:

- ``STATUS=`` updates and ``WATCHDOG=1`` pings are dropped (the next one says the same, newer);
- every other message (``READY=1``, ``RELOADING=1``, ``STOPPING=1``) is kept, in order, and
  retried by :meth:`SystemdNotifier.run` (and :meth:`flush` at exit), so systemd never sees
  STOPPING before READY, or misses one.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import deque

import structlog
import trio

from yuqingd.time.clock import monotonic_usec

log = structlog.get_logger("yuqingd.systemd")

RETRY_EVERY = 0.1  # seconds between retries of a kept message while the queue is full


def _droppable(message: str) -> bool:
    """STATUS and WATCHDOG carry only the latest state: a newer one replaces a lost one."""
    return all(line.startswith("STATUS=") or line == "WATCHDOG=1"
               for line in message.split("\n"))


class SystemdNotifier:
    def __init__(self, address: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "") if address is None else address
        # "@name" is an abstract socket; other families (vsock:) are not supported here.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.enabled = address.startswith(("/", "@"))
        if address and not self.enabled:
            log.warning("systemd.notify_unsupported", address=address)
        self._sock: socket.socket | None = None
        self._pending: deque[str] = deque()
        self._lock = threading.Lock()  # the watchdog thread pings through the same socket
        self._last_status: str | None = None
        self.dropped = 0
        self._warned = False
        # WATCHDOG=1 from run(), on the loop; off when yuqingd.watchdog's thread pings instead.
        self.loop_pings = True

    def notify(self, *lines: str) -> bool:
        """Send one message; never blocks. Returns False when it was dropped or is still
        waiting to be sent (see the module docstring)."""
        if not self.enabled:
            return False
        message = "\n".join(lines)
        with self._lock:
            if _droppable(message):
                # Behind a kept message it would arrive out of order: drop it instead.
                if self._pending or not self._send(message):
                    self._dropped(message)
                    return False
                return True
            self._pending.append(message)
            self._flush_locked()
            return not self._pending

    def _send(self, message: str) -> bool:
        """One non-blocking send; False when the queue is full."""
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)
        try:
            self._sock.sendto(message.encode(), self._address)
        except BlockingIOError:
            return False
        except OSError as exc:  # nobody bound there (ECONNREFUSED, ENOENT): nothing to wait for
            if not self._warned:
                self._warned = True
                log.warning("systemd.notify_failed", error=f"{type(exc).__name__}: {exc}")
        return True

    def _flush_locked(self) -> None:
        while self._pending and self._send(self._pending[0]):
            self._pending.popleft()

    def _dropped(self, message: str) -> None:
        self.dropped += 1
        if message.startswith("STATUS="):
            self._last_status = None  # send the current one again at the next update
        if not self._warned:
            self._warned = True
            log.warning("systemd.notify_queue_full",
                        note="the service manager is not reading; STATUS updates are dropped")

    @property
    def pending(self) -> int:
        """Messages kept for sending (READY, STOPPING …) while the queue is full."""
        return len(self._pending)

    def retry(self) -> None:
        """Try again to send the kept messages (never blocks)."""
        with self._lock:
            self._flush_locked()

    async def flush(self) -> None:
        """Wait until the kept messages are out (the caller bounds the wait)."""
        while True:
            self.retry()
            if not self._pending:
                return
            await trio.sleep(RETRY_EVERY)

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

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Ping the watchdog while the event loop is alive (a hung loop stops the pings and
        systemd acts), and retry kept messages while the manager's queue is full."""
        task_status.started()
        if not self.enabled:
            return
        interval = self.watchdog_interval() if self.loop_pings else None
        if interval is not None:
            log.info("watchdog.enabled", interval=interval)
        next_ping = trio.current_time()
        while True:
            self.retry()
            if interval is not None and trio.current_time() >= next_ping:
                self.notify("WATCHDOG=1")
                next_ping = trio.current_time() + interval
            wait = RETRY_EVERY if self._pending else 1.0
            if interval is not None:
                wait = min(wait, max(0.0, next_ping - trio.current_time()))
            await trio.sleep(wait)

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
