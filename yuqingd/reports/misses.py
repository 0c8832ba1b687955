"""Obligations missed as the reports show them: what was due, who held it, whether it counts.

One line per :class:`~yuqingd.store.api.MissRow` in the duty report and ``yuqingd incident``;
the weekly briefing sums them up per person (:func:`by_holder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yuqingd.reports.labels import EXCUSES, OBLIGATIONS
from yuqingd.store.api import MissRow


def what(miss: MissRow) -> str:
    """``事件 20261118-001「…」首报`` or the expectation's own title (值班签到：夜班（…）)."""
    if miss.incident_id is not None:
        return f"事件 {miss.incident_id}「{miss.title}」{OBLIGATIONS.get(miss.kind, miss.kind)}"
    return miss.title


def holder(miss: MissRow, *, level: bool = True) -> str:
    """The role and the people who held it (``第1级 值班员 赵丽``; a unit without contacts: its
    name once)."""
    at = f"第{miss.level}级 " if level and miss.incident_id is not None and miss.level else ""
    if not miss.who or miss.who == miss.role:
        return f"{at}{miss.role}"
    return f"{at}{miss.role} {miss.who}"


def late_record(miss: MissRow) -> bool:
    """Whether the miss was recorded later than it fell due (the daemon was down)."""
    return miss.at - miss.due_at >= 1


@dataclass(frozen=True)
class HolderTally:
    """One person's (or unit's) misses in a period."""

    holder: str
    kinds: tuple[str, ...]  # what they missed, in Chinese, first missed first
    count: int
    counted: int  # held against them


def by_holder(misses: Sequence[MissRow]) -> list[HolderTally]:
    """The misses summed up per holder, in the order each first missed something."""
    groups: dict[str, list[MissRow]] = {}
    for miss in misses:
        groups.setdefault(holder(miss, level=False), []).append(miss)
    return [HolderTally(name, tuple(dict.fromkeys(OBLIGATIONS.get(m.kind, m.kind)
                                                  for m in group)),
                        len(group), sum(m.counts for m in group))
            for name, group in groups.items()]


def held(miss: MissRow) -> str:
    """Whether the miss counts against its people (问责), and why not."""
    if miss.counts:
        return "计入问责"
    return f"不计入问责：{EXCUSES.get(miss.reason, miss.reason)}"
