"""No reminder floods: how often a report deadline that has passed is said again.

A report deadline (首报/续报/终报) is **missed once** per chain level: the level that held it when
it passed gets one miss record (问责) and one ``incident.overdue`` notification, and the incident
climbs a level as before. On the last level the holder is then reminded every ``repeat_every``,
at most ``repeat_times`` times (:data:`DEFAULT_REPEAT_TIMES` when the chain does not say);
after that the incident's overdue stages fold into **one daily digest** at
:data:`DIGEST_HOUR` local time to the last level's holder and the config's ``office`` role, until
the stage is reported or the incident closed. Reminders and digests are not misses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from yuqingd.store.api import AuditRow, DeadlineRow, LevelStep, MissRow

DEFAULT_REPEAT_TIMES = 3
DIGEST_HOUR = 9  # the daily overdue digest, local time


def repeat_times(step: LevelStep) -> int:
    """How many reminders the last level gets before the daily digest."""
    return DEFAULT_REPEAT_TIMES if step.repeat_times is None else step.repeat_times


def next_digest(local: dt.datetime) -> dt.datetime:
    """The first digest moment (``DIGEST_HOUR`` o'clock) strictly after ``local``."""
    at = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else (at + dt.timedelta(days=1)).replace(hour=DIGEST_HOUR)


def first_miss(misses: Iterable[MissRow], kind: str, level: int,
               since: float) -> MissRow | None:
    """The miss already recorded for ``kind`` at ``level`` since ``since`` (the last report,
    for follow-ups: each follow-up is owed anew), if any: a later firing is only a reminder."""
    return next((m for m in misses if m.kind == kind and m.level == level and m.at > since),
                None)


def reminders(deadlines: Iterable[DeadlineRow], kind: str, level: int, since: float) -> int:
    """How many times ``kind`` was said again at ``level`` after its miss at ``since``."""
    return sum(1 for d in deadlines if d.kind == kind and d.level == level
               and d.state == "fired" and (d.settled_at or 0) > since)


def reminder_counts(audit: Iterable[AuditRow]) -> dict[str, dict[str, int]]:
    """Per report kind, the reminders and daily digests sent (for ``yuqingd incident``)."""
    counts: dict[str, dict[str, int]] = {}
    for row in audit:
        if row.action in ("reminded", "digest"):
            for kind in row.fields.get("what", ()) if row.action == "digest" \
                    else (row.fields.get("what"),):
                per = counts.setdefault(str(kind), {"reminded": 0, "digest": 0})
                per[row.action] += 1
    return counts
