"""Console notifier: prints each notification for the person watching the terminal."""

from __future__ import annotations

import sys

from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.model import Notification
from yuqingd.notifiers import NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT

__version__ = "0.1.0"


class ConsoleOptions(BaseModel):
    model_config = STRICT
    stream: str = "stdout"  # stdout | stderr


class ConsoleNotifier:
    def __init__(self, spec: NotifierSpec):
        self.stream = sys.stderr if spec.options.stream == "stderr" else sys.stdout

    async def send(self, notification: Notification) -> None:
        bar = "=" * 60
        self.stream.write(f"\n{bar}\n{notification.text}\n{bar}\n")
        self.stream.flush()


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [
        NotifierKind(
            "console",
            ConsoleOptions,
            ConsoleNotifier,
            "prints notifications on the daemon's standard output",
        )
    ]
