"""Report-within-time, as one mechanism: something due by a deadline, with a ladder of reminders.

Every obligation the daemon holds people to — an incident's ack and its 首报/续报/终报, a duty
check-in, a sub-unit's submission — is a due time and a ladder of steps (remind, escalate),
fixed when the obligation is made. This module holds what they share:

- the **step** (:class:`~yuqingd.store.api.LadderStep`, stored with the obligation);
- **one catch-up rule** after downtime (:func:`catch_up`): the steps that fell due while the
  daemon was down are one message at start, never a burst. The obligation's kind says how the
  rest goes on: an obligation that needs the person to act *now* (a check-in, an incident's
  ladder) resumes from now at the ladder's usual spacing (:attr:`CatchUp.RESUME`); one that is
  owed regardless of when the daemon listened (a submission) says the latest step due and keeps
  the rest on schedule (:attr:`CatchUp.LATEST`). The timed messages that hold nobody to
  anything follow RESUME with a ladder of one step: a watch's summaries missed while down are
  one summary, the next counted from now; a schedule rule or flatline due while down fires
  once. Only shift-end duty reports differ on purpose: each shift is owed its own report, so
  every shift that ended while down is reported at start (at most the last few);
- **one miss record** (:class:`~yuqingd.store.api.MissRow`, written by :func:`record_miss`):
  who held the obligation when it passed, when, and whether it counts against them (问责) and
  why not. It is the one record ``yuqingd incident``, the duty report and the weekly briefing
  read for their accountability lines;
- **one rule for "not held against the person"** (:func:`excuse`): a miss does not count when
  the people holding it were never told (every notification of their level was withheld by a
  silence) or could not act (an obligation met through the daemon, like a check-in, came due
  while it was not running).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from yuqingd.store.api import LadderStep, MissRow, Store

Step = LadderStep

# Why a miss does not count against the people who held it.
SILENCED = "silenced"  # every notification of their level was withheld by a silence
DAEMON_DOWN = "daemon_down"  # due while the daemon was not running: nothing took their action


class CatchUp(Enum):
    """How an obligation's ladder goes on after steps fell due while the daemon was down."""

    RESUME = "resume"  # the person is still expected: the next step now, the rest spaced from now
    LATEST = "latest"  # owed regardless: the latest step due now, the earlier ones skipped


@dataclass(frozen=True)
class Kind:
    """What every obligation of one kind has in common."""

    name: str  # ack | first_report | follow_up | final_report | check_in | submission
    catch_up: CatchUp
    acted_through_daemon: bool  # the person acts by telling the daemon (down = could not act)


KINDS = {
    "ack": Kind("ack", CatchUp.RESUME, False),
    "first_report": Kind("first_report", CatchUp.RESUME, False),
    "follow_up": Kind("follow_up", CatchUp.RESUME, False),
    "final_report": Kind("final_report", CatchUp.RESUME, False),
    "check_in": Kind("check_in", CatchUp.RESUME, True),
    "submission": Kind("submission", CatchUp.LATEST, False),
}


def catch_up(ladder: Sequence[Step], level: int, now: float,
             rule: CatchUp) -> tuple[tuple[Step, ...], int, int]:
    """The ladder and level to go on from at ``now``, and how many steps came due together
    (more than one: the daemon was down). Steps before ``level`` are done already."""
    steps = list(ladder)
    due = [s for s in steps[level:] if s.at <= now]
    if len(due) > 1:
        if rule is CatchUp.RESUME:
            late = now - steps[level].at
            steps[level:] = [replace(s, at=s.at + late) for s in steps[level:]]
        else:
            for k in range(level, level + len(due) - 1):
                steps[k] = replace(steps[k], skipped=True)
            level += len(due) - 1
    return tuple(steps), level, len(due)


def excuse(kind: str, due_at: float, *, up: float | None, told: bool = True) -> str:
    """Why a miss of ``kind`` due at ``due_at`` is not held against its people ("" when it is):
    they were never told (``told`` False), or they act through the daemon and it was not
    running when the obligation fell due (``up``: when this daemon process began)."""
    if not told:
        return SILENCED
    if KINDS[kind].acted_through_daemon and up is not None and due_at < up:
        return DAEMON_DOWN
    return ""


def record_miss(store: Store, *, kind: str, subject: str, title: str, due_at: float, at: float,
                role: str, who: str, level: int, reason: str = "",
                incident_id: str | None = None) -> MissRow:
    """Write the miss record (inside the caller's transaction) and return it."""
    miss = MissRow(kind=kind, subject=subject, title=title, due_at=due_at, at=at, role=role,
                   who=who, level=level, counts=not reason, reason=reason,
                   incident_id=incident_id)
    store.add_miss(miss)
    return miss
