"""The weekly briefing (信息周报): what the store holds about one Monday–Sunday week, in the
shape offices write it by hand, as Markdown and as a self-contained HTML page.

An item belongs to the week in which yuqingd found it (``fetched_at``): every item is counted
in exactly one briefing, and a briefing re-rendered later says what it said on the Monday.
For the same reason incidents are shown as they stood when the week ended: audit rows, items
and acknowledgements after the end are left out.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2

from yuqingd.model import SEVERITIES
from yuqingd.reports.audit_text import SYSTEM_ACTOR, action_text, actor_text, note_text
from yuqingd.reports.periods import previous_week, week_period  # noqa: F401 (re-exported)
from yuqingd.store.sqlite import Store
from yuqingd.time.clock import Clock

SENTIMENTS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
TOP_STORIES = 10
MIN_STORY_ITEMS = 2  # a story is 重点 once it has been found at least twice (转载)
NEGATIVE_LIMIT = 20
POSITIVE_LIMIT = 10
INCIDENT_SAMPLE_ITEMS = 3

# what the briefing says -------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """How many items fell under one name (a source, sentiment, severity or topic)."""

    name: str
    count: int
    negative: int = 0


@dataclass(frozen=True)
class ItemGroup:
    """The items of one story found in the week (or one item without a story), shown through
    one of them: the most severe (negative) or the most engaged (positive), earliest first."""

    title: str
    url: str
    source: str
    severity: str
    first_at: float  # when the first of them was found
    count: int
    sources: tuple[str, ...]
    reposts: int | None  # summed over the group; None when the store keeps no engagement
    comments: int | None


@dataclass(frozen=True)
class StorySummary:
    """A story among the most found in the week."""

    story_id: int
    title: str
    count: int  # items found in the week
    total: int  # items found up to the end of the week
    negative: int  # of ``count``
    first_seen: float  # its first item ever found
    last_seen: float  # its last item found in the week
    sources: tuple[str, ...]
    sample_url: str


@dataclass(frozen=True)
class TimelineEntry:
    """One audit row of an incident (shown through :mod:`yuqingd.reports.audit_text`)."""

    at: float
    action: str  # opened | escalated | missed.* | acknowledged | report.* | closed | …
    actor: str  # "yuqingd" for the daemon itself
    note: str
    level: int  # the escalation level notified once this happened


@dataclass(frozen=True)
class IncidentSummary:
    """An incident active during the week, as it stood at the end of the week."""

    id: str
    rule_id: str
    key: str
    title: str
    severity: str
    opened_at: float
    status: str  # open | acknowledged | reported | closed
    last_report: str | None  # first | follow_up | final
    acked_by: str | None
    acked_at: float | None
    level: int
    chain: tuple[str, ...]  # the roles of its escalation chain, level 1 first
    item_count: int
    items: tuple[tuple[str, str], ...]  # (title, url) of the newest items
    timeline: tuple[TimelineEntry, ...]
    carried_over: bool  # opened before the week and not closed when it began
    silenced: tuple[float, ...] = ()  # when its notifications were withheld by a silence


@dataclass(frozen=True)
class WeeklyData:
    """Everything a weekly briefing shows, for ``start`` ≤ t < ``end`` (epoch seconds)."""

    start: float
    end: float
    total: int
    previous_total: int  # in the same length of time just before ``start``
    story_count: int
    sources: tuple[Tally, ...]
    sentiments: tuple[Tally, ...]  # 负面, 中性, 正面 (then any other stored value)
    severities: tuple[Tally, ...]  # of the negative items, 一般 … 特别重大
    topics: tuple[Tally, ...]  # an item may count under several topics
    top_stories: tuple[StorySummary, ...]
    negative: tuple[ItemGroup, ...]
    negative_groups: int  # groups in all; ``negative`` holds the first few
    positive: tuple[ItemGroup, ...]
    positive_groups: int
    incidents: tuple[IncidentSummary, ...]

    def sentiment(self, label: str) -> int:
        """Items of one sentiment (负面/中性/正面)."""
        return next((t.count for t in self.sentiments if t.name == label), 0)

    @property
    def opened(self) -> tuple[IncidentSummary, ...]:
        """Incidents opened during the week."""
        return tuple(i for i in self.incidents if not i.carried_over)

    @property
    def unclosed(self) -> tuple[IncidentSummary, ...]:
        """Incidents still not closed when the week ended."""
        return tuple(i for i in self.incidents if i.status != "closed")


# collecting -------------------------------------------------------------------------------

_SEVERITY_RANK = (
    "CASE severity WHEN '特别重大' THEN 4 WHEN '重大' THEN 3 WHEN '较大' THEN 2 ELSE 1 END"
)


def collect_weekly(
    store: Store,
    start: float,
    end: float,
    *,
    top_stories: int = TOP_STORIES,
    negative_limit: int = NEGATIVE_LIMIT,
    positive_limit: int = POSITIVE_LIMIT,
) -> WeeklyData:
    """Read (only) what the briefing for ``start`` ≤ t < ``end`` shows."""
    db = store.db
    week = {"start": start, "end": end}
    where = "fetched_at >= :start AND fetched_at < :end"

    total, stories = db.execute(
        f"SELECT count(*), count(DISTINCT story_id) + coalesce(sum(story_id IS NULL), 0) "
        f"FROM items WHERE {where}",
        week,
    ).fetchone()
    previous_total = db.execute(
        "SELECT count(*) FROM items WHERE fetched_at >= ? AND fetched_at < ?",
        (start - (end - start), start),
    ).fetchone()[0]

    sources = tuple(
        Tally(r[0], r[1], r[2])
        for r in db.execute(
            f"SELECT source, count(*) AS n, sum(sentiment = 'negative') FROM items "
            f"WHERE {where} GROUP BY source ORDER BY n DESC, source",
            week,
        )
    )
    by_sentiment = dict(
        db.execute(f"SELECT sentiment, count(*) FROM items WHERE {where} GROUP BY sentiment", week)
    )
    sentiments = tuple(Tally(label, by_sentiment.pop(key, 0)) for key, label in SENTIMENTS.items())
    sentiments += tuple(Tally(name, n) for name, n in sorted(by_sentiment.items()))
    by_severity = dict(
        db.execute(
            f"SELECT severity, count(*) FROM items WHERE {where} AND sentiment = 'negative' "
            f"GROUP BY severity",
            week,
        )
    )
    severities = tuple(Tally(s, by_severity.get(s, 0), by_severity.get(s, 0)) for s in SEVERITIES)
    topics = tuple(
        Tally(r[0], r[1], r[2])
        for r in db.execute(
            "SELECT t.value AS topic, count(*) AS n, sum(i.sentiment = 'negative') "
            "FROM items i, json_each(i.topics) t WHERE i.fetched_at >= :start "
            "AND i.fetched_at < :end GROUP BY t.value ORDER BY n DESC, topic",
            week,
        )
    )

    negative = _groups(
        db,
        week,
        "negative",
        pick=f"{_SEVERITY_RANK} DESC, fetched_at, source, item_id",
        order="g.top_rank DESC, g.n DESC, g.first_at, g.k",
    )
    positive = _groups(
        db,
        week,
        "positive",
        pick="coalesce(reposts, 0) + coalesce(comments, 0) DESC, fetched_at, source, item_id",
        order="coalesce(g.reposts, 0) + coalesce(g.comments, 0) DESC, g.n DESC, g.first_at, g.k",
    )
    return WeeklyData(
        start=start,
        end=end,
        total=total,
        previous_total=previous_total,
        story_count=stories,
        sources=sources,
        sentiments=sentiments,
        severities=severities,
        topics=topics,
        top_stories=_top_stories(db, week, top_stories),
        negative=negative[:negative_limit],
        negative_groups=len(negative),
        positive=positive[:positive_limit],
        positive_groups=len(positive),
        incidents=_incidents(db, week),
    )


def _engagement(db: sqlite3.Connection) -> tuple[str, str]:
    """The reposts and comments columns, or NULLs while the items table has none."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(items)")}
    if {"reposts", "comments"} <= columns:
        return "reposts", "comments"
    return "NULL", "NULL"


def _groups(
    db: sqlite3.Connection, week: dict[str, Any], sentiment: str, *, pick: str, order: str
) -> list[ItemGroup]:
    """Items of one sentiment grouped by story, each group shown through one item."""
    reposts, comments = _engagement(db)
    sql = f"""
        WITH week AS (
            SELECT source, item_id, title, url, severity, fetched_at,
                   {reposts} AS reposts, {comments} AS comments, {_SEVERITY_RANK} AS rank,
                   coalesce('s' || story_id, 'i' || source || char(31) || item_id) AS k
            FROM items
            WHERE fetched_at >= :start AND fetched_at < :end AND sentiment = :sentiment
        ), g AS (
            SELECT k, count(*) AS n, min(fetched_at) AS first_at, max(rank) AS top_rank,
                   json_group_array(DISTINCT source) AS sources,
                   sum(reposts) AS reposts, sum(comments) AS comments
            FROM week GROUP BY k
        ), picked AS (
            SELECT k, title, url, source, severity,
                   row_number() OVER (PARTITION BY k ORDER BY {pick}) AS pick
            FROM week
        )
        SELECT p.title, p.url, p.source, p.severity, g.first_at, g.n, g.sources,
               g.reposts, g.comments
        FROM g JOIN picked p ON p.k = g.k AND p.pick = 1
        ORDER BY {order}
    """
    return [
        ItemGroup(
            title=r[0],
            url=r[1],
            source=r[2],
            severity=r[3],
            first_at=r[4],
            count=r[5],
            sources=tuple(sorted(json.loads(r[6]))),
            reposts=r[7],
            comments=r[8],
        )
        for r in db.execute(sql, {**week, "sentiment": sentiment})
    ]


def _top_stories(
    db: sqlite3.Connection, week: dict[str, Any], limit: int
) -> tuple[StorySummary, ...]:
    rows = db.execute(
        "SELECT story_id, count(*) AS n, sum(sentiment = 'negative'), max(fetched_at), "
        "json_group_array(DISTINCT source), min(fetched_at) AS first_at FROM items "
        "WHERE fetched_at >= :start AND fetched_at < :end AND story_id IS NOT NULL "
        "GROUP BY story_id HAVING n >= :min ORDER BY n DESC, first_at, story_id LIMIT :limit",
        {**week, "min": MIN_STORY_ITEMS, "limit": limit},
    ).fetchall()
    stories = []
    for story_id, count, negative, last_seen, sources, _ in rows:
        total, first_seen = db.execute(
            "SELECT count(*), min(fetched_at) FROM items WHERE story_id = ? AND fetched_at < ?",
            (story_id, week["end"]),
        ).fetchone()
        first_title, sample_url = db.execute(
            "SELECT title, (SELECT url FROM items WHERE story_id = :id AND url != '' "
            "AND fetched_at >= :start AND fetched_at < :end ORDER BY fetched_at, source, item_id "
            "LIMIT 1) FROM items WHERE story_id = :id AND fetched_at < :end "
            "ORDER BY fetched_at, source, item_id LIMIT 1",
            {**week, "id": story_id},
        ).fetchone()
        story = db.execute("SELECT title FROM stories WHERE id = ?", (story_id,)).fetchone()
        stories.append(
            StorySummary(
                story_id=story_id,
                title=story[0] if story else first_title,
                count=count,
                total=total,
                negative=negative,
                first_seen=first_seen,
                last_seen=last_seen,
                sources=tuple(sorted(json.loads(sources))),
                sample_url=sample_url or "",
            )
        )
    return tuple(stories)


def _incidents(db: sqlite3.Connection, week: dict[str, Any]) -> tuple[IncidentSummary, ...]:
    """Incidents opened during the week, and those opened before it and not yet closed when
    it began (so an incident opened late on a Sunday is followed through the next briefing)."""
    rows = db.execute(
        "SELECT * FROM incidents WHERE opened_at < :end AND (opened_at >= :start OR NOT EXISTS "
        "(SELECT 1 FROM audit a WHERE a.incident_id = incidents.id AND a.action = 'closed' "
        "AND a.at < :start)) ORDER BY opened_at, id",
        week,
    ).fetchall()
    return tuple(_incident(db, row, week) for row in rows)


def _incident(db: sqlite3.Connection, row: sqlite3.Row, week: dict[str, Any]) -> IncidentSummary:
    chain = tuple(str(step.get("notify", "?")) for step in json.loads(row["chain"]))
    level = 1
    timeline = []
    silenced = []
    for at, action, actor, note in db.execute(
        "SELECT at, action, actor, note FROM audit WHERE incident_id = ? AND at < ? "
        "ORDER BY at, id",
        (row["id"], week["end"]),
    ):
        if action == "notification.silenced":  # one per channel: counted, not listed
            silenced.append(at)
            continue
        if action == "escalated":
            level = min(level + 1, max(len(chain), 1))
        timeline.append(TimelineEntry(at, action, actor, note, level))

    actions = [e.action for e in timeline]
    reports = [a.removeprefix("report.") for a in actions if a.startswith("report.")]
    status = (
        "closed"
        if "closed" in actions
        else "reported"
        if reports
        else "acknowledged"
        if "acknowledged" in actions
        else "open"
    )
    ack = next((e for e in timeline if e.action == "acknowledged"), None)
    acked_by, acked_at = (ack.actor, ack.at) if ack else (None, None)
    if ack is None and row["acked_at"] is not None and row["acked_at"] < week["end"]:
        acked_by, acked_at = row["acked_by"], row["acked_at"]  # acknowledged without an audit row
        status = "acknowledged" if status == "open" else status

    item_count = db.execute(
        "SELECT count(*) FROM incident_items WHERE incident_id = ? AND at < ?",
        (row["id"], week["end"]),
    ).fetchone()[0]
    items = tuple(
        (r[0], r[1])
        for r in db.execute(
            "SELECT i.title, i.url FROM incident_items x JOIN items i USING (source, item_id) "
            "WHERE x.incident_id = ? AND x.at < ? ORDER BY x.at DESC, x.source, x.item_id "
            "LIMIT ?",
            (row["id"], week["end"], INCIDENT_SAMPLE_ITEMS),
        )
    )
    return IncidentSummary(
        id=row["id"],
        rule_id=row["rule_id"],
        key=row["group_key"],
        title=row["title"],
        severity=row["severity"],
        opened_at=row["opened_at"],
        status=status,
        last_report=reports[-1] if reports else None,
        acked_by=acked_by,
        acked_at=acked_at,
        level=level,
        chain=chain,
        item_count=item_count,
        items=items,
        timeline=tuple(timeline),
        carried_over=row["opened_at"] < week["start"],
        silenced=tuple(silenced),
    )


# rendering --------------------------------------------------------------------------------

STATUS = {"open": "未确认", "acknowledged": "已确认", "closed": "已结案"}
REPORT_STAGES = {"first": "已首报", "follow_up": "已续报", "final": "已终报"}
WEEKDAYS = "一二三四五六日"


def render_weekly(
    data: WeeklyData,
    clock: Clock,
    unit_name: str = "教育局",
    *,
    key_dates: Sequence[str] = (),
) -> tuple[str, str]:
    """The briefing as (Markdown, self-contained HTML); ``key_dates`` are next week's key
    dates (names, as the calendar gives them) for 六、下周关注."""
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
    return action_text(entry.action, entry.note)


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
    return note_text(entry.action, entry.note)


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
