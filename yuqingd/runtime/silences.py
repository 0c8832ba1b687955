"""Silences (静默): a person mutes the notifications of a rule, a key or a source for a while,
with a reason. A silence suppresses notifications only, never the record: items are stored,
incidents open, deadlines run and escalate, and every suppressed notification is recorded as a
``notification.silenced`` event. Silences expire on their own and can be removed early.

Never silenced: the leader level of a 重大 or 特别重大 incident — levels 2 and up of its chain
(or the only level of a one-level chain). So a silence on a major incident's rule mutes the duty
officer's reminders, but when nobody acknowledges, the leader is still told.

A source silence mutes what that source's items trigger as they arrive: whoever sends while
handling an item passes its source to the check (:mod:`yuqingd.runtime.outreach`). An incident
such an item opens still escalates if nobody acknowledges it: to mute that as well, silence its
rule or key.
"""

from __future__ import annotations

import structlog

from yuqingd.events import Events
from yuqingd.model import Notification
from yuqingd.reports.labels import SCOPES as SCOPES_ZH
from yuqingd.runtime.audit import Audit
from yuqingd.severity import at_least
from yuqingd.store.api import SilenceRow, Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.silences")

SCOPES = ("rule", "key", "source")
SCOPE_NAMES = SCOPES_ZH
LEADER_LEVEL = 2  # chain levels from here on are the leader level
MAJOR = "重大"  # and above: its leader level is never silenced


class Silences:
    def __init__(self, store: Store, clock: Clock, events: Events):
        self.store = store
        self.clock = clock
        self.events = events
        self.audit = Audit(store, events)

    # commands (each in its own transaction) -----------------------------------------------

    def add(self, scope: str, target: str, duration: float, reason: str, by: str,
            now: float, *, via: str = "") -> int:
        """``via``: how, when not the control socket (the HTTP API's token)."""
        with self.store.transaction():
            silence_id = self.store.add_silence(scope, target, now, now + duration, reason, by)
            self.audit.record("silence.added", now, silence=silence_id, scope=scope,
                              target=target, until=self.clock.format(now + duration), by=by,
                              reason=reason, **({"via": via} if via else {}))
        return silence_id

    def remove(self, silence_id: int, by: str, now: float, *, via: str = "") -> None:
        with self.store.transaction():
            self.store.remove_silence(silence_id, now, by)
            self.audit.record("silence.removed", now, silence=silence_id, by=by,
                              **({"via": via} if via else {}))

    def active(self, now: float) -> list[SilenceRow]:
        return self.store.active_silences(now)

    def get(self, silence_id: int) -> SilenceRow | None:
        return self.store.silence(silence_id)

    # the checks ---------------------------------------------------------------------------

    def covering(self, notification: Notification, key: str, at: float, *,
                 source: str | None = None) -> SilenceRow | None:
        """The silence that suppresses ``notification`` at ``at``, or None. ``source``: the
        source of the item whose handling sends it, if any."""
        if self._leader_of_major(notification):
            return None
        for row in self.store.active_silences(at):
            scope, target = row["scope"], row["target"]
            if ((scope == "rule" and target == notification.rule)
                    or (scope == "key" and target == key)
                    or (scope == "source" and source is not None and target == source)):
                return row
        return None

    def _leader_of_major(self, notification: Notification) -> bool:
        if not at_least(notification.severity, MAJOR) or not notification.incident:
            return False
        if notification.level >= LEADER_LEVEL:
            return True
        incident = self.store.incident(notification.incident)
        return incident is not None and len(incident.chain) == 1

    def suppressed(self, notification: Notification, key: str, at: float, *,
                   source: str | None = None) -> bool:
        """Whether to withhold ``notification``; if so, record that it was."""
        row = self.covering(notification, key, at, source=source)
        if row is None:
            return False
        self.audit.record("notification.silenced", at, id=notification.id,
                          rule=notification.rule, incident=notification.incident or None,
                          key=key, kind=notification.kind, level=notification.level,
                          channel=notification.channel, silence=row["id"], scope=row["scope"],
                          target=row["target"])
        return True
