"""Run the real daemon as a child process, with a real NOTIFY_SOCKET to listen on."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` (an external process is working) until truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class DaemonProcess:
    def __init__(self, config: Path, socket_dir: Path, env: dict | None = None):
        self.config = config
        self.notify_path = socket_dir / f"notify-{os.getpid()}-{id(self)}"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.messages: list[str] = []
        self.env = {
            **os.environ,
            "NOTIFY_SOCKET": str(self.notify_path),
            "YUQINGD_PLUGINS": "tests.service.slow_notifier",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.env.pop("JOURNAL_STREAM", None)
        self.proc: subprocess.Popen | None = None
        self.stderr_path = config.parent / f"daemon-{id(self)}.log"

    def start(self) -> DaemonProcess:
        self.stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "yuqingd", "run", "--config", str(self.config)],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr,
        )
        return self

    def next_message(self, timeout: float = 30.0) -> str:
        self.notify.settimeout(timeout)
        try:
            data = self.notify.recv(65536).decode()
        except TimeoutError:
            raise AssertionError(
                f"no sd_notify message within {timeout}s; got {self.messages}; log:\n"
                + self.log()[-3000:]) from None
        self.messages.append(data)
        return data

    def wait_message(self, needle: str, timeout: float = 30.0) -> str:
        """Read messages until one contains ``needle``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no message with {needle!r}; got {self.messages}")
            message = self.next_message(remaining)
            if needle in message:
                return message

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def log(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_events(self) -> list[dict]:
        events = []
        for line in self.log().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.notify.close()
        self.notify_path.unlink(missing_ok=True)
        if getattr(self, "stderr", None):
            self.stderr.close()


def query(db: Path, sql: str, *args):
    """Read the daemon's SQLite file from outside (WAL lets us read while it writes)."""
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql, args).fetchall()
