"""Console notifier: prints each notification for the person watching the terminal.

Delivery is at-least-once with stable ids: after a crash the core may send a notification again
that was printed just before. A terminal cannot be asked what it shows, so the notifier keeps
the ids it has printed in ``console-<channel>.printed`` in the state folder (0600, one id a
line, the newest ``REMEMBER`` kept) and prints each id once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.model import Notification
from yuqingd.notifiers import NotifierContext, NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT

__version__ = "0.1.0"

REMEMBER = 10_000  # ids kept; far more than a crash can leave unacknowledged in the outbox


class ConsoleOptions(BaseModel):
    model_config = STRICT
    stream: str = "stdout"  # stdout | stderr


class ConsoleNotifier:
    def __init__(self, spec: NotifierSpec):
        self.stream = sys.stderr if spec.options.stream == "stderr" else sys.stdout
        self.memory: Path | None = None
        self.printed: set[str] = set()

    async def start(self, ctx: NotifierContext) -> None:
        if ctx.state_dir is not None:
            self.memory = Path(ctx.state_dir) / f"console-{ctx.name}.printed"
            self.printed = await trio.to_thread.run_sync(_load, self.memory)

    async def send(self, notification: Notification) -> None:
        if notification.id in self.printed:
            return  # printed before a crash; the core did not get to record it
        # In a worker thread: the id is written (and synced) right after the text is printed.
        await trio.to_thread.run_sync(self._print_once, notification)

    def _print_once(self, notification: Notification) -> None:
        bar = "=" * 60
        # The signed links of the people reached (when the daemon's HTTP endpoint is on).
        links = "".join(f"{a.label}（{a.person}）：{a.url}\n"
                        for a in notification.actions if a.url)
        self.stream.write(f"\n{bar}\n{notification.text}\n{links}{bar}\n")
        self.stream.flush()
        self.printed.add(notification.id)
        if self.memory is not None:
            fd = os.open(self.memory, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, notification.id.encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)


def _load(path: Path) -> set[str]:
    """The ids printed before; the file is cut down to the newest REMEMBER when it grows past
    twice that."""
    try:
        ids = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return set()
    ids = [i for i in ids if i]  # a torn last line is just an id that will print again
    if len(ids) > 2 * REMEMBER:
        ids = ids[-REMEMBER:]
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(ids) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    return set(ids)


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [
        NotifierKind(
            "console",
            ConsoleOptions,
            ConsoleNotifier,
            "prints notifications on the daemon's standard output, each id once",
        )
    ]
