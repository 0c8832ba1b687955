"""Report queries of the SQLite store: the figures of a weekly briefing and of a duty report.

An item belongs to the period in which yuqingd found it (``fetched_at``): every item is counted
in exactly one period, and a report re-rendered later says what it said then. For the same
reason incidents are shown as they stood when the period ended: audit rows, items and
acknowledgements after the end are left out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from yuqingd.model import SEVERITIES, SPREAD_WINDOW
from yuqingd.store.api import (
    HandoverNoteRow,
    IncidentSummary,
    ItemGroup,
    MissRow,
    ShiftData,
    ShiftItem,
    SourceActivity,
    StorySummary,
    Tally,
    TimelineEntry,
    WeeklyData,
)

SENTIMENT_ORDER = ("negative", "neutral", "positive")  # then any other stored value, by name
MIN_STORY_ITEMS = 2  # a story is 重点 once it has been found at least twice (转载)
INCIDENT_SAMPLE_ITEMS = 3

# The one severity order (model.SEVERITIES), 1-based, as SQL; unknown values rank lowest.
_SEVERITY_RANK = ("CASE severity "
                  + " ".join(f"WHEN '{name}' THEN {rank}"
                             for rank, name in enumerate(SEVERITIES, start=1))
                  + " ELSE 1 END")


def weekly(db: sqlite3.Connection, start: float, end: float, *, top_stories: int,
           negative_limit: int, positive_limit: int) -> WeeklyData:
    """What the briefing for ``start`` ≤ t < ``end`` shows."""
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
    sentiments = tuple(Tally(key, by_sentiment.pop(key, 0)) for key in SENTIMENT_ORDER)
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
        negative=tuple(negative[:negative_limit]),
        negative_groups=len(negative),
        positive=tuple(positive[:positive_limit]),
        positive_groups=len(positive),
        incidents=incidents(db, week),
        misses=tuple(misses(db, start, end)),
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
        times = [t for (t,) in db.execute(
            "SELECT fetched_at FROM items WHERE story_id = :id AND fetched_at >= :start "
            "AND fetched_at < :end ORDER BY fetched_at", {**week, "id": story_id})]
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
                peak_items=_peak(times, SPREAD_WINDOW),
            )
        )
    return tuple(stories)


def _peak(times: list[float], window: float) -> int:
    """The most of ``times`` (sorted) within one ``window`` (both ends included, as rules
    count ``spread``)."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def incidents(db: sqlite3.Connection, span: dict[str, Any]) -> tuple[IncidentSummary, ...]:
    """Incidents opened during the span, and those opened before it and not yet closed when
    it began (so an incident opened late on a Sunday is followed through the next briefing)."""
    rows = db.execute(
        "SELECT * FROM incidents WHERE opened_at < :end AND (opened_at >= :start OR NOT EXISTS "
        "(SELECT 1 FROM audit a WHERE a.incident_id = incidents.id AND a.action = 'closed' "
        "AND a.at < :start)) ORDER BY opened_at, id",
        span,
    ).fetchall()
    return tuple(_incident(db, row, span) for row in rows)


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


def shift(db: sqlite3.Connection, start: float, end: float, notes: Sequence[HandoverNoteRow],
          sources: Sequence[str] = ()) -> ShiftData:
    """What a duty report for ``start`` ≤ t < ``end`` shows from the store; ``sources`` (the
    configured names) come first and are listed even when silent."""
    span = {"start": start, "end": end}
    in_span = "fetched_at >= :start AND fetched_at < :end"
    counts = {r[0]: (r[1], r[2]) for r in db.execute(
        f"SELECT source, count(*), sum(sentiment = 'negative') FROM items WHERE {in_span} "
        "GROUP BY source", span)}
    last = dict(db.execute("SELECT source, max(fetched_at) FROM items WHERE fetched_at < :end "
                           "GROUP BY source", span).fetchall())
    dead = dict(db.execute("SELECT source, count(*) FROM dead_letters WHERE at >= :start "
                           "AND at < :end GROUP BY source", span).fetchall())
    activity = []
    for name in dict.fromkeys([*sources, *sorted(counts), *sorted(dead)]):
        count, negative = counts.get(name, (0, 0))
        activity.append(SourceActivity(name, count, negative or 0, last.get(name),
                                      dead.get(name, 0)))
    joined = {(r[0], r[1]): r[2] for r in db.execute(
        "SELECT source, item_id, incident_id FROM incident_items WHERE at >= :start "
        "AND at < :end ORDER BY at", span)}
    return ShiftData(
        sources=tuple(activity),
        negative=_shift_items(db, span, "negative", joined),
        positive=_shift_items(db, span, "positive", joined),
        incidents=incidents(db, span),
        notes=tuple(notes),
        misses=tuple(misses(db, start, end)),
    )


def miss(row: sqlite3.Row) -> MissRow:
    return MissRow(kind=row["kind"], subject=row["subject"], title=row["title"],
                   due_at=row["due_at"], at=row["at"], role=row["role"], who=row["who"],
                   level=row["level"], counts=bool(row["counts"]), reason=row["reason"],
                   incident_id=row["incident_id"], id=row["id"])


def misses(db: sqlite3.Connection, start: float, end: float) -> list[MissRow]:
    """Obligations missed at ``start`` ≤ t < ``end``, in the order recorded."""
    return [miss(r) for r in db.execute(
        "SELECT * FROM misses WHERE at >= ? AND at < ? ORDER BY at, id", (start, end))]


def _shift_items(db: sqlite3.Connection, span: dict[str, Any], sentiment: str,
                 joined: dict[tuple[str, str], str]) -> tuple[ShiftItem, ...]:
    reposts, comments = _engagement(db)
    return tuple(
        ShiftItem(r["title"], r["url"], r["source"], r["severity"], r["fetched_at"],
                  joined.get((r["source"], r["item_id"]), ""), r["engagement"] or 0)
        for r in db.execute(
            f"SELECT source, item_id, title, url, severity, fetched_at, "
            f"coalesce({reposts}, 0) + coalesce({comments}, 0) AS engagement FROM items "
            "WHERE fetched_at >= :start AND fetched_at < :end AND sentiment = :sentiment "
            "ORDER BY fetched_at, source, item_id", {**span, "sentiment": sentiment})
    )
