"""Typed audit: every state change people are accountable for, recorded by one call.

``Audit.record(action, at, **fields)`` writes the audit entry (the action and its fields, as
JSON, through the store), emits the action's domain event (:mod:`yuqingd.events`: what
``yuqingd simulate`` prints and plugins observe) and logs it — inside the caller's transaction,
so the three cannot disagree. Two fields are columns of the entry rather than fields:
``incident`` (the incident it belongs to) and ``by`` (who did it; the daemon itself when absent).

Each action is declared once in :data:`ACTIONS`: the event it emits, which of its fields the
event carries (in that order: the event stream is a published format) and how loud its log line
is. The entry keeps every field, so reports can say more than the event does. No wording here:
:mod:`yuqingd.reports.audit` says an entry in Chinese when it is shown.

    audit.record("escalated", now, incident=incident.id, rule=incident.rule_id,
                 key=incident.group_key, from_level=1, level=2, late_seconds=1200.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from yuqingd.events import Events
from yuqingd.store.api import SYSTEM_ACTOR, Store

log = structlog.get_logger("yuqingd.audit")

# What an incident's deadlines are, for the ``missed.<kind>`` actions.
DEADLINE_KINDS = ("ack", "repeat", "first_report", "follow_up", "final_report")
REPORT_STAGES = ("first", "follow_up", "final")


@dataclass(frozen=True)
class Action:
    """How one audit action is announced besides its entry."""

    event: str | None  # the domain event it emits; None: entry and log line only
    event_fields: tuple[str, ...] = ()  # of the fields given, those the event carries, in order
    log_level: str = "info"
    # Values the event carries that are not fields of the entry (kept for the event format).
    event_extra: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None


def _closed_note(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event of an incident closed by quiet has always said so in its ``note``."""
    if "quiet" in fields and not fields.get("note"):
        return {"note": f"确认后 {fields['quiet']:g}s 内无新信息，自动关闭"}
    return {}


_INCIDENT = ("incident", "rule", "key")
ACTIONS: dict[str, Action] = {
    # incidents
    "opened": Action("incident.opened", (*_INCIDENT, "severity", "items"), "warning"),
    "escalated": Action("incident.escalated", (*_INCIDENT, "level", "overdue"), "warning"),
    "repeated": Action("incident.repeated", (*_INCIDENT, "level"), "warning"),
    "repeats.done": Action(None),
    # a report deadline already missed, said again (yuqingd.runtime.reminders)
    "reminded": Action("incident.reminded", (*_INCIDENT, "what", "level", "count", "times")),
    "digest": Action(None),
    **{f"missed.{kind}": Action("expectation.missed", (
        "what", *_INCIDENT, "level", "role", "who", "silenced"), "warning")
       for kind in DEADLINE_KINDS},
    "acknowledged": Action("incident.acknowledged", (*_INCIDENT, "by", "note")),
    **{f"report.{stage}": Action("incident.reported", (*_INCIDENT, "stage", "by", "note"))
       for stage in REPORT_STAGES},
    "downgraded": Action("incident.downgraded", (*_INCIDENT, "severity", "previous")),
    "closed": Action("incident.closed", ("incident", "rule", "by", "note"),
                     event_extra=_closed_note),
    # silences
    "notification.silenced": Action("notification.silenced", (
        "id", "rule", "incident", "key", "kind", "level", "channel", "silence", "scope",
        "target")),
    # delivery: a person's notification moved to their next channel (yuqingd.delivery.fallback)
    "notification.fallback": Action("notification.fallback", (
        "id", "moved", "incident", "channel", "to_channel", "people", "failing"), "warning"),
    "silence.added": Action("silence.added", (
        "silence", "scope", "target", "until", "by", "reason")),
    "silence.removed": Action("silence.removed", ("silence", "by")),
    # watches
    "watch.started": Action("watch.started", ("watch", "rule", "kind", "key", "by", "until")),
    "watch.ended": Action("watch.ended", ("watch", "rule", "kind", "key", "items", "by")),
}


class Audit:
    """Records audit entries; see the module docstring."""

    def __init__(self, store: Store, events: Events):
        self.store = store
        self.events = events

    def record(self, action: str, at: float, /, **fields: Any) -> None:
        """Write the entry for ``action`` at ``at``, emit its event and log it. ``fields`` are
        JSON values; ``incident`` and ``by`` name the entry's incident and actor."""
        spec = ACTIONS[action]  # a KeyError here is a programming error: declare the action
        incident = fields.get("incident")
        actor = fields.get("by") or SYSTEM_ACTOR
        kept = {k: v for k, v in fields.items() if k not in ("incident", "by")}
        self.store.audit(at, action, actor, incident, kept)
        extra = spec.event_extra(fields) if spec.event_extra is not None else {}
        if spec.event is not None:
            announced = {k: fields[k] for k in spec.event_fields if k in fields}
            self.events.emit(spec.event, at, **{**announced, **extra})
        getattr(log, spec.log_level)(spec.event or action, action=action, **{**fields, **extra})
