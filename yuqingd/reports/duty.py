"""The duty report (值班报告): one shift as the outgoing officer would write it by hand — the
period, the platforms monitored and their health, new major negative items, notable positive
items, incidents and their handling, the handover note and the officers — as Markdown and HTML.

Like the weekly briefing it is a pure function of the store and the period: items belong to
the shift in which yuqingd found them (``fetched_at``), incidents are shown as they stood at
the shift's end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yuqingd.reports import weekly
from yuqingd.reports.periods import Period
from yuqingd.reports.weekly import IncidentSummary
from yuqingd.store.sqlite import Store
from yuqingd.time.clock import Clock

MAJOR_LIMIT = 20
POSITIVE_LIMIT = 10
MAJOR_SEVERITIES = ("较大", "重大", "特别重大")


@dataclass(frozen=True)
class SourceHealth:
    """One monitored platform in the shift."""

    name: str
    count: int  # items found in the shift
    negative: int
    last_at: float | None  # its last item found up to the shift's end
    dead_letters: int  # items that failed processing in the shift
    state: str  # 正常 | 本班次无新信息 | 异常：… (in Chinese, for the table)


@dataclass(frozen=True)
class ReportItem:
    title: str
    url: str
    source: str
    severity: str
    at: float
    incident: str  # the incident it opened or joined in the shift, or ""
    engagement: int


@dataclass(frozen=True)
class Note:
    by: str
    note: str
    at: float


@dataclass(frozen=True)
class DutyData:
    """Everything a duty report shows for ``period``."""

    period: Period
    total: int
    sources: tuple[SourceHealth, ...]
    major: tuple[ReportItem, ...]
    major_total: int
    positive: tuple[ReportItem, ...]
    positive_total: int
    incidents: tuple[IncidentSummary, ...]
    notes: tuple[Note, ...]
    officers: tuple[tuple[str, tuple[str, ...]], ...]  # (role, people) as the roster has them

    @property
    def opened(self) -> tuple[IncidentSummary, ...]:
        return tuple(i for i in self.incidents if not i.carried_over)

    @property
    def unclosed(self) -> tuple[IncidentSummary, ...]:
        return tuple(i for i in self.incidents if i.status != "closed")


def collect_duty(
    store: Store,
    period: Period,
    *,
    sources: Sequence[str] = (),
    health: Mapping[str, str] | None = None,
    officers: Mapping[str, Sequence[str]] | None = None,
) -> DutyData:
    """Read what the duty report for ``period`` shows. ``sources``: the configured source
    names (shown even when silent); ``health``: the running daemon's view of each source
    (None in simulation: the store alone tells); ``officers``: role → people of the shift."""
    db = store.db
    span = {"start": period.start, "end": period.end}
    in_span = "fetched_at >= :start AND fetched_at < :end"
    counts = {r[0]: (r[1], r[2]) for r in db.execute(
        f"SELECT source, count(*), sum(sentiment = 'negative') FROM items WHERE {in_span} "
        "GROUP BY source", span)}
    last = dict(db.execute("SELECT source, max(fetched_at) FROM items WHERE fetched_at < :end "
                           "GROUP BY source", span).fetchall())
    dead = dict(db.execute("SELECT source, count(*) FROM dead_letters WHERE at >= :start "
                           "AND at < :end GROUP BY source", span).fetchall())
    table = []
    for name in dict.fromkeys([*sources, *sorted(counts), *sorted(dead)]):
        count, negative = counts.get(name, (0, 0))
        table.append(SourceHealth(name, count, negative or 0, last.get(name),
                                  dead.get(name, 0), _state(name, count, dead, health)))

    incidents = weekly._incidents(db, span)
    opened_here = {i.id for i in incidents if not i.carried_over}
    joined = _incident_of_items(db, span)
    major = [
        item for item in _items(db, span, "negative", joined)
        if item.severity in MAJOR_SEVERITIES or item.incident in opened_here
    ]
    major.sort(key=lambda i: (-_rank(i.severity), i.at))
    positive = sorted(_items(db, span, "positive", joined), key=lambda i: (-i.engagement, i.at))
    notes = tuple(Note(r["by"], r["note"], r["at"]) for r in store.handover_notes(period.id))
    return DutyData(
        period=period,
        total=sum(c for c, _ in counts.values()),
        sources=tuple(table),
        major=tuple(major[:MAJOR_LIMIT]),
        major_total=len(major),
        positive=tuple(positive[:POSITIVE_LIMIT]),
        positive_total=len(positive),
        incidents=incidents,
        notes=notes,
        officers=tuple((role, tuple(people)) for role, people in (officers or {}).items()),
    )


def _state(name: str, count: int, dead: Mapping[str, int],
           health: Mapping[str, str] | None) -> str:
    if health is not None and name in health:
        return health[name]
    if dead.get(name):
        return "有处理错误"
    return "正常" if count else "本班次无新信息"


def _rank(severity: str) -> int:
    return MAJOR_SEVERITIES.index(severity) + 1 if severity in MAJOR_SEVERITIES else 0


def _incident_of_items(db: sqlite3.Connection, span: dict) -> dict[tuple[str, str], str]:
    """(source, item id) → the incident it joined during the shift."""
    return {(r[0], r[1]): r[2] for r in db.execute(
        "SELECT source, item_id, incident_id FROM incident_items WHERE at >= :start "
        "AND at < :end ORDER BY at", span)}


def _items(db: sqlite3.Connection, span: dict, sentiment: str,
           joined: Mapping[tuple[str, str], str]) -> list[ReportItem]:
    reposts, comments = weekly._engagement(db)
    return [
        ReportItem(r["title"], r["url"], r["source"], r["severity"], r["fetched_at"],
                   joined.get((r["source"], r["item_id"]), ""), r["engagement"] or 0)
        for r in db.execute(
            f"SELECT source, item_id, title, url, severity, fetched_at, "
            f"coalesce({reposts}, 0) + coalesce({comments}, 0) AS engagement FROM items "
            "WHERE fetched_at >= :start AND fetched_at < :end AND sentiment = :sentiment "
            "ORDER BY fetched_at, source, item_id", {**span, "sentiment": sentiment})
    ]


def render_duty(data: DutyData, clock: Clock, unit_name: str = "教育局") -> tuple[str, str]:
    """The duty report as (Markdown, self-contained HTML)."""
    start = clock.to_datetime(data.period.start)
    offset = start.strftime("%z") or "+0000"
    shift = data.period.shift
    context = {
        "data": data,
        "unit": unit_name,
        "day": weekly._day(shift.duty_day if shift else start.date()),
        "shift_name": shift.name if shift else "",
        "offset": f"UTC{offset[:3]}:{offset[3:5]}",
        "zone": str(clock.tz),
        "t": clock.format,
        "actor": weekly._actor,
        "status": weekly._status,
        "action": weekly._action,
        "role": weekly._role,
        "note": weekly._note,
        # Timeline entries within the shift, with their index in the whole timeline.
        "steps": lambda incident: [(k, e) for k, e in enumerate(incident.timeline)
                                   if data.period.start <= e.at < data.period.end],
        "silenced": lambda incident: sum(data.period.start <= at < data.period.end
                                         for at in incident.silenced),
    }
    env = weekly._environment()
    return (env.get_template("duty.md.j2").render(context),
            env.get_template("duty.html.j2").render(context))
