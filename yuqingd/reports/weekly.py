"""The weekly briefing (信息周报): what the store holds about one Monday–Sunday week, in the
shape offices write it by hand, as Markdown and as a self-contained HTML page.

The figures come from the store (:meth:`yuqingd.store.api.Store.weekly_data`, which says what
belongs to a week); this module only names and renders them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

import jinja2

from yuqingd.reports import misses
from yuqingd.reports.audit import action_text, actor_text, note_text
from yuqingd.reports.labels import REPORTED, SENTIMENTS, STATUS, SYSTEM_ACTOR
from yuqingd.reports.periods import previous_week, week_period  # noqa: F401 (re-exported)
from yuqingd.severity import SEVERITIES
from yuqingd.store.api import (  # noqa: F401 (re-exported: what a briefing shows)
    IncidentSummary,
    ItemGroup,
    Store,
    StorySummary,
    Tally,
    TimelineEntry,
    WeeklyData,
)
from yuqingd.time.clock import Clock

TOP_STORIES = 10
NEGATIVE_LIMIT = 20
POSITIVE_LIMIT = 10

# collecting -------------------------------------------------------------------------------


def collect_weekly(
    store: Store,
    start: float,
    end: float,
    *,
    top_stories: int = TOP_STORIES,
    negative_limit: int = NEGATIVE_LIMIT,
    positive_limit: int = POSITIVE_LIMIT,
) -> WeeklyData:
    """Read (only) what the briefing for ``start`` ≤ t < ``end`` shows; sentiments are named
    as the briefing shows them (负面, 中性, 正面)."""
    data = store.weekly_data(start, end, top_stories=top_stories,
                             negative_limit=negative_limit, positive_limit=positive_limit)
    return dataclasses.replace(data, sentiments=tuple(
        dataclasses.replace(t, name=SENTIMENTS.get(t.name, t.name)) for t in data.sentiments))


# rendering --------------------------------------------------------------------------------

REPORT_STAGES = REPORTED
WEEKDAYS = "一二三四五六日"


def render_weekly(
    data: WeeklyData,
    clock: Clock,
    unit_name: str = "教育局",
    *,
    key_dates: Sequence[str] = (),
) -> tuple[str, str]:
    """The briefing as (Markdown, self-contained HTML); ``key_dates`` are next week's key
    dates (names, as the calendar gives them) for 下周关注."""
    start = clock.to_datetime(data.start)
    last_day = (clock.to_datetime(data.end) - dt.timedelta(days=1)).date()
    year, week, _ = start.date().isocalendar()
    zone_offset = start.strftime("%z") or "+0000"
    context = {
        "data": data,
        "unit": unit_name,
        "year": year,
        "week": week,
        "first_day": _day(start.date()),
        "last_day": _day(last_day),
        "offset": f"UTC{zone_offset[:3]}:{zone_offset[3:5]}",
        "zone": str(clock.tz),
        "issued": _day(clock.to_datetime(data.end).date()),
        "key_dates": list(key_dates),
        "t": clock.format,
        "pct": _pct,
        "actor": _actor,
        "status": _status,
        "action": _action,
        "role": _role,
        "note": _note,
        "by_holder": misses.by_holder,
        "silenced": lambda incident: len(incident.silenced),
        "severities": SEVERITIES,
    }
    env = _environment()
    markdown = env.get_template("weekly.md.j2").render(context)
    html = env.get_template("weekly.html.j2").render(context)
    return markdown, html


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("yuqingd.reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["link"] = _link
    return env


def _day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def _actor(name: str) -> str:
    return actor_text(name)


def _action(entry: TimelineEntry) -> str:
    return action_text(entry.action, entry.fields)


def _status(incident: IncidentSummary) -> str:
    if incident.status == "reported" and incident.last_report:
        return REPORT_STAGES.get(incident.last_report, "已报告")
    return STATUS.get(incident.status, incident.status)


def _role(incident: IncidentSummary, level: int) -> str:
    return incident.chain[level - 1] if 0 < level <= len(incident.chain) else ""


_SYSTEM_NOTES = ("opened", "escalated", "repeated", "unacknowledged")


def _note(timeline: Sequence[TimelineEntry], index: int) -> str:
    """The note worth showing for one timeline entry: the daemon's own notes on the ladder are
    said better by the entry's label, and closing by a final report repeats that report's."""
    entry = timeline[index]
    if entry.actor == SYSTEM_ACTOR and entry.action in _SYSTEM_NOTES:
        return ""
    previous = timeline[index - 1] if index else None
    if (
        entry.action == "closed"
        and previous is not None
        and previous.action == "report.final"
        and previous.note == entry.note
    ):
        return ""
    return note_text(entry.action, entry.fields, entry.actor)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def _md(text: object) -> str:
    """Text from the outside world made inert in Markdown, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


_URL_UNSAFE = re.compile(r"[\s<>\"'`\\]")


def _link(url: str) -> str:
    """An http(s) URL safe to put in a link (other schemes, like javascript:, become "")."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return _URL_UNSAFE.sub(lambda m: quote(m[0]), url.strip())
