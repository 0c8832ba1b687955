"""JSONL file notifier: appends each notification as one JSON line.

Delivery is idempotent: a notification whose id is already in the file (written just before a
crash, say) is not written again.
"""

from __future__ import annotations

import json
import os

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.model import Notification
from yuqingd.notifiers import NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT, NonEmptyStr

__version__ = "0.1.0"


class JsonlOptions(BaseModel):
    model_config = STRICT
    path: NonEmptyStr


class JsonlNotifier:
    def __init__(self, spec: NotifierSpec):
        self.path = spec.base_dir / spec.options.path
        self._written: set[str] | None = None

    def _load_written(self) -> set[str]:
        written = set()
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        written.add(json.loads(line)["id"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line from a crash
        except FileNotFoundError:
            pass
        return written

    async def send(self, notification: Notification) -> None:
        # File I/O with fsync runs in a worker thread so the event loop never waits on the disk.
        await trio.to_thread.run_sync(self._write_once, notification)

    def _write_once(self, notification: Notification) -> None:
        if self._written is None:
            self._written = self._load_written()
        if notification.id in self._written:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(notification.as_dict(), ensure_ascii=False) + "\n"
        # 0640: alerts name people and incidents; a log shipper in the group may read them.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        with open(fd, "a", encoding="utf-8") as f:
            if f.tell() and not _ends_with_newline(self.path):
                f.write("\n")  # finish a torn line so the new one parses
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._written.add(notification.id)


def _ends_with_newline(path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [
        NotifierKind(
            "jsonl", JsonlOptions, JsonlNotifier, "appends notifications to a JSON-lines file"
        )
    ]
