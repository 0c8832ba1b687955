"""journald notifier: one journal entry per notification, for a site that collects the journal
(``journalctl -t yuqingd-notify KIND=incident.opened``). Priority from the severity level."""

from __future__ import annotations

from typing import Any

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.model import Notification
from yuqingd.notifiers import NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT

__version__ = "0.1.0"

# syslog priorities: 2 crit, 3 err, 4 warning, 5 notice, 6 info
PRIORITY_BY_LEVEL = {0: 6, 1: 5, 2: 4, 3: 3}


class JournaldOptions(BaseModel):
    model_config = STRICT
    identifier: str = "yuqingd-notify"  # SYSLOG_IDENTIFIER=


def priority(level: int) -> int:
    return PRIORITY_BY_LEVEL.get(level, 2 if level > 3 else 6)


class JournaldNotifier:
    def __init__(self, spec: NotifierSpec, send: Any = None):
        self.identifier = spec.options.identifier
        if send is None:
            from systemd import journal

            send = journal.send
        self._send = send

    async def send(self, n: Notification) -> None:
        fields = {
            "PRIORITY": str(priority(n.level)),
            "SYSLOG_IDENTIFIER": self.identifier,
            "INCIDENT": n.incident,
            "LEVEL": str(n.level),
            "SEVERITY": n.severity,
            "KIND": n.kind,
            "NOTIFICATION_ID": n.id,
            "RULE": n.rule,
        }
        await trio.to_thread.run_sync(lambda: self._send(n.text, **fields))


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [NotifierKind("journald", JournaldOptions, JournaldNotifier,
                         "one systemd journal entry per notification")]
