"""The periods reports cover, and their ids: an ISO week (``2026-W47``) for the weekly
briefing; a shift (``2026-11-02/白班``: its duty day and name) for a duty report, or a calendar
day (``2026-11-02``) when there is no duty roster. One place decides what a report made at a
moment covers, for the shift-end reports, scheduled rules and ``yuqingd report``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yuqingd.located import msg

if TYPE_CHECKING:  # only a type here: reports do not depend on the runtime
    from yuqingd.runtime.roster import Roster, Shift

_ISO_WEEK = re.compile(r"(\d{4})-W(\d{1,2})")
_SHIFT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:/(.+))?")


@dataclass(frozen=True)
class Period:
    """What one report covers: ``start`` ≤ t < ``end`` (epoch seconds)."""

    kind: str  # duty | weekly
    id: str
    start: float
    end: float
    shift: Shift | None = None  # a duty report's shift (None: a calendar day, no roster)


def week_period(week: str | dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Monday 00:00 to the next Monday 00:00 in ``tz``, of an ISO week ("2026-W47") or of the
    week that contains a date."""
    if isinstance(week, str):
        match = _ISO_WEEK.fullmatch(week.strip().upper())
        try:
            if match is None:
                raise ValueError(week)
            monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValueError(
                msg(
                    f"无效的周次 {week!r}：应为 ISO 周，如 2026-W47",
                    f"invalid week {week!r}: expected an ISO week such as 2026-W47",
                )
            ) from None
    else:
        day = week
        if isinstance(day, dt.datetime):
            day = day.astimezone(tz).date() if day.tzinfo else day.date()
        monday = day - dt.timedelta(days=day.weekday())
    start = dt.datetime.combine(monday, dt.time(), tzinfo=tz)
    return start, dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=tz)


def previous_week(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The Monday–Sunday week before the one containing ``moment`` (aware), in its zone: the
    week a briefing made at ``moment`` covers."""
    if moment.tzinfo is None:
        raise ValueError("previous_week needs an aware datetime")
    return week_period(moment.date() - dt.timedelta(days=7), moment.tzinfo)


def weekly(week: str | dt.date, tz: dt.tzinfo) -> Period:
    """The briefing period of an ISO week ("2026-W47") or of the week containing a date."""
    start, end = week_period(week, tz)
    year, number, _ = start.date().isocalendar()
    return Period("weekly", f"{year}-W{number:02d}", start.timestamp(), end.timestamp())


def of_shift(shift: Shift) -> Period:
    return Period("duty", f"{shift.duty_day.isoformat()}/{shift.name}",
                  shift.start.timestamp(), shift.end.timestamp(), shift)


def of_day(day: dt.date, tz: dt.tzinfo) -> Period:
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return Period("duty", day.isoformat(), start.timestamp(), end.timestamp())


def report_period(kind: str, moment: dt.datetime, roster: Roster | None = None) -> Period:
    """What a report of ``kind`` made at ``moment`` (aware) covers: the previous ISO week for
    weekly; for duty, the last shift that ended (the previous calendar day without a roster)."""
    assert moment.tzinfo is not None
    if kind == "weekly":
        return weekly(moment.date() - dt.timedelta(days=7), moment.tzinfo)
    if roster is not None:
        return of_shift(roster.shift_before(roster.shift_at(moment)))
    return of_day(moment.date() - dt.timedelta(days=1), moment.tzinfo)


def duty_periods(text: str, roster: Roster | None, tz: dt.tzinfo) -> list[Period]:
    """The duty periods ``2026-11-02/白班`` names (one), or ``2026-11-02`` (every shift of that
    duty day; the day itself without a roster)."""
    match = _SHIFT.fullmatch(text.strip())
    try:
        day = dt.date.fromisoformat(match[1]) if match else None
    except ValueError:
        day = None
    if match is None or day is None:
        raise ValueError(msg(f"无效的班次 {text!r}：应为 2026-11-02 或 2026-11-02/白班",
                             f"invalid shift {text!r}: expected 2026-11-02 or 2026-11-02/NAME"))
    if roster is None:
        if match[2]:
            raise ValueError(msg("未配置值班表（duty），只能按日期查询，如 2026-11-02",
                                 "no duty roster: name a day only, e.g. 2026-11-02"))
        return [of_day(day, tz)]
    shifts = roster.shifts_on(day, tz)
    if match[2]:
        shifts = [s for s in shifts if s.name == match[2].strip()]
        if not shifts:
            names = "、".join(s.name for s in roster.shifts_on(day, tz))
            raise ValueError(msg(f"没有名为 {match[2]!r} 的班次（已定义: {names}）",
                                 f"no shift named {match[2]!r} (defined: {names})"))
    return [of_shift(s) for s in shifts]
