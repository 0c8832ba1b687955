"""Report-within-time: the deadlines an incident gets when it opens.

The severity's ``deadlines:`` entry, with the rule's ``then.incident.deadlines`` over it field by
field, gives the incident's deadlines. ``ack_within`` there caps every chain level's own
``ack_within`` (and gives one to a last level that has none); key-date vigilance
(``ack_within_factor``) multiplies every deadline. The result is snapshotted on the incident, so
a reload never moves the deadlines of an open incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yuqingd.reports.labels import DEADLINE_KINDS, STAGES
from yuqingd.rules.model import Deadlines
from yuqingd.store.api import LevelStep

REPORT_KINDS = ("first_report", "follow_up", "final_report")

# What people read (re-exported for callers of this module).
STAGE_ZH = STAGES
KIND_ZH = DEADLINE_KINDS
# ``yuqingd report --stage`` → the stage it reaches and the deadline kinds it meets.
REPORT_STAGES = {
    "first": ("first_report", ("first_report",)),
    "follow_up": ("follow_up", ("follow_up",)),
    # A final report may come first (首报即终报): it then meets the first report's deadline.
    "final": ("final_report", ("final_report", "follow_up", "first_report")),
}
STAGE_OF_KIND = {"first_report": "first", "follow_up": "follow_up", "final_report": "final"}


def plan(chain: list[Mapping[str, Any]], severity: Deadlines | None, rule: Deadlines | None,
         factor: float | None) -> tuple[list[LevelStep], dict[str, float]]:
    """The incident's chain (``ack_within`` capped and scaled), typed, and its deadlines."""
    merged: dict[str, float] = {}
    for spec in (severity, rule):
        if spec is not None:
            merged.update({k: v for k, v in spec.model_dump().items() if v is not None})
    scale = factor or 1.0
    cap = merged.get("ack_within")
    levels = []
    for level in chain:
        step = dict(level)
        ack = step.get("ack_within")
        if cap is not None:
            ack = min(ack, cap) if ack else cap
        if ack:
            step["ack_within"] = ack * scale
        levels.append(LevelStep(**step))
    deadlines = {k: v * scale for k, v in merged.items()}
    if factor:
        deadlines["factor"] = factor
    return levels, deadlines
