"""The SQLite store (WAL), the default backend of :class:`yuqingd.store.api.Store`: every item,
incident, deadline and outgoing notification is written here, in one transaction with the change
that caused it, before anything acts on it. JSON columns are decoded here and nowhere else."""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from yuqingd.located import msg
from yuqingd.model import Enrichment, Item
from yuqingd.store.api import (
    AuditRow,
    DeadlineRow,
    ExpectationRow,
    HandoverNoteRow,
    IncidentRow,
    ItemRow,
    LadderStep,
    LevelStep,
    MissRow,
    OutboxRow,
    Purged,
    ReportRow,
    ShiftData,
    SilenceRow,
    StateInUse,
    StoreError,
    StoryItem,
    StoryRow,
    TokenRow,
    WatchItemRow,
    WatchRow,
    WeeklyData,
)
from yuqingd.store.sqlite import reports
from yuqingd.store.sqlite.migrations import MIGRATIONS

R = TypeVar("R")


def _row(cls: type[R], row: sqlite3.Row, **decoded: Any) -> R:
    """A typed row from a database row, by column name; ``decoded`` overrides columns."""
    return cls(**{f.name: decoded[f.name] if f.name in decoded else row[f.name]  # type: ignore[call-arg]
                  for f in fields(cls)})  # type: ignore[arg-type]


def _rowid(cursor: sqlite3.Cursor) -> int:
    """The id an INSERT gave its row."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _ladder(text: str) -> tuple[LadderStep, ...]:
    return tuple(LadderStep(at=s["at"], action=s["action"], roles=tuple(s.get("roles", ())),
                            people=tuple(s.get("people", ())), skipped=bool(s.get("skipped")))
                 for s in json.loads(text))


def _ladder_json(ladder: Sequence[LadderStep]) -> str:
    steps = []
    for step in ladder:
        encoded: dict[str, Any] = {"at": step.at, "action": step.action,
                                   "roles": list(step.roles), "people": list(step.people)}
        if step.skipped:
            encoded["skipped"] = True
        steps.append(encoded)
    return json.dumps(steps, ensure_ascii=False)


_LEVEL_FIELDS = frozenset(f.name for f in fields(LevelStep))


def _level(step: LevelStep | Mapping[str, Any]) -> LevelStep:
    if isinstance(step, LevelStep):
        return step
    return LevelStep(**{k: v for k, v in step.items() if k in _LEVEL_FIELDS})


def _chain(text: str) -> tuple[LevelStep, ...]:
    return tuple(_level(step) for step in json.loads(text))


def _expectation(row: sqlite3.Row) -> ExpectationRow:
    return _row(ExpectationRow, row, ladder=_ladder(row["ladder"]))


def _watch(row: sqlite3.Row) -> WatchRow:
    return _row(WatchRow, row, recipients=json.loads(row["recipients"] or "{}"))




class SqliteStore:
    """Synchronous SQLite access; called from the trio thread (local, millisecond writes)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        # One daemon per database: two would both fire every deadline.
        self._lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StateInUse(
                msg(f"另一个 yuqingd 正在使用 {path}", f"another yuqingd is using {path}")
            ) from None
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed alert survives power loss too
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def close(self) -> None:
        self.db.close()
        self._lock.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        self.schema_version_at_open: int = version  # what `yuqingd migrate` reports it from
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                if callable(step):
                    step(self.db)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing. Not re-entrant: a transaction must never span an ``await``, and
        nesting is the first step towards that."""
        if self.db.in_transaction:
            raise RuntimeError("Store.transaction() is not re-entrant")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc
        try:
            yield
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise StoreError(str(exc)) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise StoreError(str(exc)) from exc

    def _rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # items and cursors ---------------------------------------------------------------------

    def add_item(
        self,
        item: Item,
        enrichment: Enrichment,
        author_hash: str,
        at: float,
        story_id: int | None = None,
    ) -> bool:
        """Store a new item; False when (source, id) was seen before."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO items (source, item_id, url, title, text, author_hash, "
            "published_at, fetched_at, entities, sentiment, why, topics, severity, story_id, "
            "reposts, comments) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                item.source,
                item.id,
                item.url,
                item.title,
                item.text,
                author_hash,
                item.published_at,
                at,
                json.dumps(
                    [{"entity": h.entity, "via": h.via} for h in enrichment.entities],
                    ensure_ascii=False,
                ),
                enrichment.sentiment,
                enrichment.why,
                json.dumps(list(enrichment.topics), ensure_ascii=False),
                enrichment.severity,
                story_id,
                item.reposts,
                item.comments,
            ),
        )
        return cur.rowcount == 1

    def has_item(self, source: str, item_id: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM items WHERE source=? AND item_id=?", (source, item_id)
            ).fetchone()
            is not None
        )

    # stories ------------------------------------------------------------------------------

    def recent_stories(self, since: float) -> list[tuple[int, int]]:
        return [
            (r[0], r[1])
            for r in self.db.execute(
                "SELECT id, simhash FROM stories WHERE last_seen>=? ORDER BY id", (since,)
            )
        ]

    def recent_story_items(self, since: float, first: int,
                           recent_since: float) -> list[StoryItem]:
        rows = self.db.execute(
            "SELECT * FROM (SELECT i.story_id, i.title, i.text, i.fetched_at, s.first_seen, "
            "s.last_seen, row_number() OVER (PARTITION BY i.story_id "
            "ORDER BY i.fetched_at, i.rowid) AS n FROM items i JOIN stories s ON s.id = i.story_id "
            "WHERE s.last_seen >= ?) WHERE n <= ? OR fetched_at >= ? "
            "ORDER BY fetched_at, story_id", (since, first, recent_since)).fetchall()
        return [_row(StoryItem, r) for r in rows]

    def add_story(self, simhash: int, title: str, at: float) -> int:
        return _rowid(self.db.execute(
            "INSERT INTO stories (simhash, title, first_seen, last_seen) VALUES (?,?,?,?)",
            (simhash, title, at, at),
        ))

    def touch_story(self, story_id: int, at: float) -> None:
        self.db.execute(
            "UPDATE stories SET last_seen=max(last_seen, ?), items=items+1 WHERE id=?",
            (at, story_id),
        )

    def story(self, story_id: int) -> StoryRow | None:
        row = self.db.execute("SELECT * FROM stories WHERE id=?", (story_id,)).fetchone()
        return _row(StoryRow, row) if row else None

    def item(self, source: str, item_id: str) -> ItemRow | None:
        row = self.db.execute("SELECT * FROM items WHERE source=? AND item_id=?",
                              (source, item_id)).fetchone()
        return _row(ItemRow, row) if row else None

    # retention (PIPL) ---------------------------------------------------------------------

    def purge(self, before: float, at: float) -> Purged:
        """Items are purged once, from where the last run stopped (``purged_before``) up to
        ``before``: their rows stay (so a source re-sending one does not make it new), blank."""
        row = self.db.execute("SELECT purged_before FROM retention WHERE id=1").fetchone()
        since = row[0] if row else None
        span = "fetched_at < ?" if since is None else "fetched_at >= ? AND fetched_at < ?"
        bounds: tuple[float, ...] = (before,) if since is None else (since, before)
        cited = ("EXISTS (SELECT 1 FROM incident_items c "
                 "WHERE c.source=items.source AND c.item_id=items.item_id)")
        items = self.db.execute(
            f"UPDATE items SET text='', author_hash='', "
            f"title=CASE WHEN {cited} THEN title ELSE '' END, "
            f"url=CASE WHEN {cited} THEN url ELSE '' END WHERE {span}", bounds).rowcount
        story_span = span.replace("fetched_at", "last_seen")
        stories = self.db.execute(
            f"UPDATE stories SET title='' WHERE {story_span} AND NOT EXISTS ("
            "SELECT 1 FROM items i JOIN incident_items c "
            "ON c.source=i.source AND c.item_id=i.item_id WHERE i.story_id=stories.id)",
            bounds).rowcount
        hits = self.db.execute("DELETE FROM rule_hits WHERE at < ?", (before,)).rowcount
        firings = self.db.execute("DELETE FROM firings WHERE at < ?", (before,)).rowcount
        dead = self.db.execute("DELETE FROM dead_letters WHERE at < ?", (before,)).rowcount
        self.db.execute(
            "INSERT INTO retention (id, purged_before, last_run) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_run=excluded.last_run, "
            "purged_before=max(purged_before, excluded.purged_before)", (before, at))
        return Purged(items, stories, hits, firings, dead)

    def last_purge(self) -> float | None:
        row = self.db.execute("SELECT last_run FROM retention WHERE id=1").fetchone()
        return row[0] if row else None

    # firings, activity, tags, schedules ---------------------------------------------------

    def add_firing(self, rule_id: str, key: str, at: float) -> None:
        self.db.execute("INSERT INTO firings VALUES (?,?,?)", (rule_id, key, at))

    def last_firing(self, rule_id: str, key: str) -> float | None:
        return self.db.execute(
            "SELECT max(at) FROM firings WHERE rule_id=? AND group_key=?", (rule_id, key)
        ).fetchone()[0]

    def touch_activity(self, kind: str, key: str, at: float) -> None:
        self.db.execute(
            "INSERT INTO activity VALUES (?,?,?) ON CONFLICT(kind, key) "
            "DO UPDATE SET last_at=max(last_at, excluded.last_at)",
            (kind, key, at),
        )

    def last_activity(self, kind: str, key: str) -> float | None:
        row = self.db.execute(
            "SELECT last_at FROM activity WHERE kind=? AND key=?", (kind, key)
        ).fetchone()
        return row[0] if row else None

    def tag_item(self, source: str, item_id: str, tag: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO item_tags VALUES (?,?,?)", (source, item_id, tag))

    def item_tags(self, source: str, item_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT tag FROM item_tags WHERE source=? AND item_id=? ORDER BY tag",
                (source, item_id),
            )
        ]

    def schedule_last(self, rule_id: str) -> float | None:
        row = self.db.execute(
            "SELECT last_at FROM schedule_state WHERE rule_id=?", (rule_id,)
        ).fetchone()
        return row[0] if row else None

    def set_schedule_last(self, rule_id: str, at: float) -> None:
        self.db.execute(
            "INSERT INTO schedule_state VALUES (?,?) ON CONFLICT(rule_id) "
            "DO UPDATE SET last_at=excluded.last_at",
            (rule_id, at),
        )

    def item_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def cursor(self, source: str) -> str | None:
        row = self.db.execute(
            "SELECT cursor FROM source_cursors WHERE source=?", (source,)
        ).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, cursor: str, at: float) -> None:
        self.db.execute(
            "INSERT INTO source_cursors VALUES (?,?,?) "
            "ON CONFLICT(source) DO UPDATE SET cursor=excluded.cursor, "
            "updated_at=excluded.updated_at",
            (source, cursor, at),
        )

    # windows ------------------------------------------------------------------------------

    def add_hit(self, rule_id: str, key: str, item: Item, at: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO rule_hits VALUES (?,?,?,?,?)",
            (rule_id, key, item.source, item.id, at),
        )

    def count_hits(self, rule_id: str, key: str, since: float, before: float = float("inf")) -> int:
        """Hits at ``since`` ≤ at < ``before``."""
        return self.db.execute(
            "SELECT count(*) FROM rule_hits WHERE rule_id=? AND group_key=? AND at>=? AND at<?",
            (rule_id, key, since, before),
        ).fetchone()[0]

    def hits_in_window(self, rule_id: str, key: str, since: float) -> list[tuple[str, str, float]]:
        return [
            (r["source"], r["item_id"], r["at"])
            for r in self.db.execute(
                "SELECT source, item_id, at FROM rule_hits "
                "WHERE rule_id=? AND group_key=? AND at>=? ORDER BY at",
                (rule_id, key, since),
            )
        ]

    # incidents ----------------------------------------------------------------------------

    def _incident(self, row: sqlite3.Row) -> IncidentRow:
        count = self.db.execute(
            "SELECT count(*) FROM incident_items WHERE incident_id=?", (row["id"],)
        ).fetchone()[0]
        return IncidentRow(
            id=row["id"],
            rule_id=row["rule_id"],
            group_key=row["group_key"],
            title=row["title"],
            severity=row["severity"],
            chain=_chain(row["chain"]),
            level=row["level"],
            status=row["status"],
            opened_at=row["opened_at"],
            acked_at=row["acked_at"],
            acked_by=row["acked_by"],
            item_count=count,
            stage=row["stage"],
            deadlines=json.loads(row["deadlines"]),
        )

    def active_incident(self, rule_id: str, key: str) -> IncidentRow | None:
        row = self.db.execute(
            "SELECT * FROM incidents WHERE rule_id=? AND group_key=? "
            "AND status IN ('open','acknowledged')",
            (rule_id, key),
        ).fetchone()
        return self._incident(row) if row else None

    def incident(self, incident_id: str) -> IncidentRow | None:
        row = self.db.execute("SELECT * FROM incidents WHERE id=?", (incident_id,)).fetchone()
        return self._incident(row) if row else None

    def incidents(self, status: str | None = None) -> list[IncidentRow]:
        rows = self.db.execute(
            "SELECT * FROM incidents WHERE ?1 IS NULL OR status=?1 ORDER BY opened_at, id",
            (status,),
        )
        return [self._incident(r) for r in rows.fetchall()]

    def next_incident_id(self, day: str) -> str:
        """``YYYYMMDD-NNN``, numbered per day: short enough to type in ``yuqingd ack``."""
        count = self.db.execute(
            "SELECT count(*) FROM incidents WHERE id LIKE ?", (f"{day}-%",)
        ).fetchone()[0]
        return f"{day}-{count + 1:03d}"

    def add_incident(
        self,
        incident_id: str,
        rule_id: str,
        key: str,
        title: str,
        severity: str,
        chain: Sequence[LevelStep | Mapping[str, Any]],
        at: float,
    ) -> None:
        self.db.execute(
            "INSERT INTO incidents (id, rule_id, group_key, title, severity, chain, level, status,"
            " opened_at) VALUES (?,?,?,?,?,?,1,'open',?)",
            (incident_id, rule_id, key, title, severity,
             json.dumps([dict(_level(step)) for step in chain], ensure_ascii=False), at),
        )

    def attach_item(self, incident_id: str, source: str, item_id: str, at: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO incident_items VALUES (?,?,?,?)",
            (incident_id, source, item_id, at),
        )

    def incident_items(self, incident_id: str, newest: int = 5) -> list[ItemRow]:
        return [_row(ItemRow, r) for r in self.db.execute(
            "SELECT i.* FROM incident_items x JOIN items i USING (source, item_id) "
            "WHERE x.incident_id=? ORDER BY x.at DESC LIMIT ?",
            (incident_id, newest),
        )]

    def last_closed(self, rule_id: str, key: str) -> float | None:
        """When the last incident of this rule and key was closed."""
        return self.db.execute(
            "SELECT max(a.at) FROM audit a JOIN incidents i ON i.id = a.incident_id "
            "WHERE a.action='closed' AND i.rule_id=? AND i.group_key=?", (rule_id, key)
        ).fetchone()[0]

    def last_item_at(self, incident_id: str) -> float | None:
        return self.db.execute(
            "SELECT max(at) FROM incident_items WHERE incident_id=?", (incident_id,)
        ).fetchone()[0]

    def close_incident(self, incident_id: str, at: float) -> None:
        self.db.execute("UPDATE incidents SET status='closed', stage='closed' WHERE id=?",
                        (incident_id,))
        self.db.execute(
            "UPDATE deadlines SET state='cancelled', settled_at=? "
            "WHERE incident_id=? AND state='pending'",
            (at, incident_id),
        )

    def set_level(self, incident_id: str, level: int) -> None:
        self.db.execute("UPDATE incidents SET level=? WHERE id=?", (level, incident_id))

    def acknowledge(self, incident_id: str, by: str, note: str, at: float) -> int:
        self.db.execute(
            "UPDATE incidents SET status='acknowledged', acked_at=?, acked_by=?, ack_note=?, "
            "stage=CASE stage WHEN 'opened' THEN 'acknowledged' ELSE stage END WHERE id=?",
            (at, by, note, incident_id),
        )
        # Only the ladder stops: report deadlines run on after an acknowledgement.
        met = self.db.execute(
            "UPDATE deadlines SET state='met', settled_at=? WHERE incident_id=? "
            "AND state='pending' AND kind='ack'", (at, incident_id)).rowcount
        self.db.execute(
            "UPDATE deadlines SET state='cancelled', settled_at=? WHERE incident_id=? "
            "AND state='pending' AND kind='repeat'", (at, incident_id))
        return met

    # deadlines ----------------------------------------------------------------------------

    def add_deadline(self, incident_id: str, kind: str, level: int, due_at: float) -> int:
        return _rowid(self.db.execute(
            "INSERT INTO deadlines (incident_id, kind, level, due_at) VALUES (?,?,?,?)",
            (incident_id, kind, level, due_at),
        ))

    def next_deadline(self) -> float | None:
        row = self.db.execute("SELECT min(due_at) FROM deadlines WHERE state='pending'").fetchone()
        return row[0]

    def due_deadlines(self, now: float) -> list[DeadlineRow]:
        return [
            _row(DeadlineRow, r)
            for r in self.db.execute(
                "SELECT * FROM deadlines WHERE state='pending' AND due_at<=? ORDER BY due_at, id",
                (now,),
            )
        ]

    def settle_deadline(self, deadline_id: int, at: float) -> bool:
        """Mark a pending deadline fired; False when it is no longer pending (met or
        cancelled by an earlier deadline handled in the same pass)."""
        return self.db.execute(
            "UPDATE deadlines SET state='fired', settled_at=? WHERE id=? AND state='pending'",
            (at, deadline_id),
        ).rowcount == 1

    # outbox -------------------------------------------------------------------------------

    def enqueue(self, notification_id: str, channel: str, payload: dict[str, Any],
                at: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO outbox (id, channel, payload, created_at, next_attempt_at) "
            "VALUES (?,?,?,?,?)",
            (notification_id, channel, json.dumps(payload, ensure_ascii=False), at, at),
        )

    @staticmethod
    def _outbox_row(r: sqlite3.Row) -> OutboxRow:
        return OutboxRow(r["id"], r["channel"], json.loads(r["payload"]), r["attempts"],
                         r["next_attempt_at"], r["created_at"], r["delivered_at"],
                         r["last_error"], r["fallback_from"])

    def pending_outbox(self, channel: str, now: float, limit: int = 50) -> list[OutboxRow]:
        return [
            self._outbox_row(r)
            for r in self.db.execute(
                "SELECT * FROM outbox WHERE channel=? AND delivered_at IS NULL "
                "AND next_attempt_at<=? ORDER BY created_at, rowid LIMIT ?",  # rowid: written order
                (channel, now, limit),
            )
        ]

    def next_retry(self, channel: str) -> float | None:
        return self.db.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE channel=? AND delivered_at IS NULL",
            (channel,),
        ).fetchone()[0]

    def undelivered_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[
            0
        ]

    def oldest_undelivered(self) -> float | None:
        return self.db.execute(
            "SELECT min(created_at) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]

    def mark_delivered(self, notification_id: str, at: float) -> None:
        self.db.execute(
            "UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE id=?",
            (at, notification_id),
        )

    def mark_failed(self, notification_id: str, error: str, retry_at: float) -> None:
        self.db.execute(
            "UPDATE outbox SET attempts=attempts+1, last_error=?, next_attempt_at=? WHERE id=?",
            (error[:500], retry_at, notification_id),
        )

    def undelivered_outbox(self, channel: str) -> list[OutboxRow]:
        return [self._outbox_row(r) for r in self.db.execute(
            "SELECT * FROM outbox WHERE channel=? AND delivered_at IS NULL "
            "ORDER BY created_at, rowid", (channel,))]

    def move_notification(self, notification_id: str, channel: str, payload: dict[str, Any],
                          from_channel: str, at: float) -> None:
        self.db.execute(
            "UPDATE outbox SET channel=?, payload=?, fallback_from=?, attempts=0, "
            "next_attempt_at=?, last_error=NULL WHERE id=? AND delivered_at IS NULL",
            (channel, json.dumps(payload, ensure_ascii=False), from_channel, at,
             notification_id))

    def add_fallback(self, notification_id: str, channel: str, payload: dict[str, Any],
                     from_channel: str, created_at: float, at: float) -> bool:
        return self.db.execute(
            "INSERT OR IGNORE INTO outbox (id, channel, payload, created_at, next_attempt_at, "
            "fallback_from) VALUES (?,?,?,?,?,?)",
            (notification_id, channel, json.dumps(payload, ensure_ascii=False), created_at, at,
             from_channel)).rowcount == 1

    def set_outbox_payload(self, notification_id: str, payload: dict[str, Any]) -> None:
        self.db.execute("UPDATE outbox SET payload=? WHERE id=?",
                        (json.dumps(payload, ensure_ascii=False), notification_id))

    def channel_failed(self, channel: str, at: float) -> None:
        self.db.execute("INSERT OR IGNORE INTO channel_failures (channel, since) VALUES (?,?)",
                        (channel, at))

    def channel_recovered(self, channel: str) -> None:
        self.db.execute("DELETE FROM channel_failures WHERE channel=?", (channel,))

    def channel_failing_since(self, channel: str) -> float | None:
        row = self.db.execute("SELECT since FROM channel_failures WHERE channel=?",
                              (channel,)).fetchone()
        return row[0] if row else None

    def incident_outbox(self, incident_id: str) -> list[OutboxRow]:
        return [self._outbox_row(r) for r in self.db.execute(
            "SELECT * FROM outbox WHERE json_extract(payload, '$.incident')=? "
            "ORDER BY created_at, rowid", (incident_id,))]

    def add_dead_letter(
        self, at: float, source: str, item_id: str, error: str, item: dict[str, Any]
    ) -> None:
        self.db.execute(
            "INSERT INTO dead_letters (at, source, item_id, error, item) VALUES (?,?,?,?,?)",
            (at, source, item_id, error[:2000], json.dumps(item, ensure_ascii=False, default=str)),
        )

    def dead_letter_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]

    # audit --------------------------------------------------------------------------------

    def audit(self, at: float, action: str, actor: str, incident_id: str | None = None,
              fields: Mapping[str, Any] | None = None) -> None:
        self.db.execute(
            "INSERT INTO audit (at, incident_id, action, actor, fields) VALUES (?,?,?,?,?)",
            (at, incident_id, action, actor, json.dumps(dict(fields or {}), ensure_ascii=False)),
        )

    # report-within-time (incident lifecycle, deadlines met and missed) ------------------------

    def set_incident_deadlines(self, incident_id: str, deadlines: dict[str, Any]) -> None:
        self.db.execute("UPDATE incidents SET deadlines=? WHERE id=?",
                        (json.dumps(deadlines, ensure_ascii=False), incident_id))

    def set_stage(self, incident_id: str, stage: str) -> None:
        self.db.execute("UPDATE incidents SET stage=? WHERE id=?", (stage, incident_id))

    def set_severity(self, incident_id: str, severity: str) -> None:
        self.db.execute("UPDATE incidents SET severity=? WHERE id=?", (severity, incident_id))

    def meet_deadlines(self, incident_id: str, kinds: tuple[str, ...], at: float) -> int:
        """Mark the pending deadlines of ``kinds`` met; returns how many were."""
        marks = ",".join("?" * len(kinds))
        return self.db.execute(
            f"UPDATE deadlines SET state='met', settled_at=? WHERE incident_id=? "
            f"AND state='pending' AND kind IN ({marks})", (at, incident_id, *kinds)).rowcount

    def cancel_ladder(self, incident_id: str, at: float) -> None:
        """Drop the pending ack/repeat deadlines (the ladder moved on another way)."""
        self.db.execute(
            "UPDATE deadlines SET state='cancelled', settled_at=? WHERE incident_id=? "
            "AND state='pending' AND kind IN ('ack','repeat')", (at, incident_id))

    def repeats_done(self, incident_id: str) -> int:
        """How many times the last level has been reminded again (fired repeat deadlines)."""
        return self.db.execute(
            "SELECT count(*) FROM deadlines WHERE incident_id=? AND kind='repeat' "
            "AND state='fired'", (incident_id,)).fetchone()[0]

    def level_told(self, incident_id: str, level: int) -> bool:
        """Whether any notification of the incident reached the outbox for ``level`` (not all
        withheld by silences). Ids are ``INCIDENT:KIND:L<level>:TAG:CHANNEL``."""
        like = f"{incident_id}:%:L{level}:%".replace("_", r"\_")
        return self.db.execute("SELECT 1 FROM outbox WHERE id LIKE ? ESCAPE '\\' LIMIT 1",
                               (like,)).fetchone() is not None

    def fired_deadlines(self, incident_id: str, kind: str, level: int) -> int:
        return self.db.execute(
            "SELECT count(*) FROM deadlines WHERE incident_id=? AND kind=? AND level=? "
            "AND state='fired'", (incident_id, kind, level)).fetchone()[0]

    def record_miss(self, deadline_id: int, role: str, who: str,
                    excused: str | None = None) -> None:
        """Who held the responsible role when the deadline passed (for accountability)."""
        self.db.execute("UPDATE deadlines SET role=?, who=?, excused=? WHERE id=?",
                        (role, who, excused, deadline_id))

    def incident_deadlines(self, incident_id: str) -> list[DeadlineRow]:
        return [_row(DeadlineRow, r) for r in self.db.execute(
            "SELECT * FROM deadlines WHERE incident_id=? ORDER BY due_at, id", (incident_id,)
        )]

    def incident_audit(self, incident_id: str) -> list[AuditRow]:
        return [_row(AuditRow, r, fields=json.loads(r["fields"])) for r in self.db.execute(
            "SELECT * FROM audit WHERE incident_id=? ORDER BY at, id", (incident_id,)
        )]

    def next_incident_deadline(self, incident_id: str) -> DeadlineRow | None:
        row = self.db.execute(
            "SELECT * FROM deadlines WHERE incident_id=? AND state='pending' "
            "ORDER BY due_at, id LIMIT 1", (incident_id,)).fetchone()
        return _row(DeadlineRow, row) if row else None

    def last_audit(self, incident_id: str, action: str) -> float | None:
        return self.db.execute("SELECT max(at) FROM audit WHERE incident_id=? AND action=?",
                               (incident_id, action)).fetchone()[0]

    def pending_reports(self, incident_id: str) -> int:
        """Report deadlines still open: the incident owes a report."""
        return self.db.execute(
            "SELECT count(*) FROM deadlines WHERE incident_id=? AND state='pending' "
            "AND kind IN ('first_report','follow_up','final_report')", (incident_id,)
        ).fetchone()[0]

    # obligations missed ------------------------------------------------------------------

    def add_miss(self, miss: MissRow) -> int:
        return _rowid(self.db.execute(
            "INSERT INTO misses (kind, subject, title, due_at, at, role, who, level, counts, "
            "reason, incident_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (miss.kind, miss.subject, miss.title, miss.due_at, miss.at, miss.role, miss.who,
             miss.level, int(miss.counts), miss.reason, miss.incident_id)))

    def misses(self, start: float, end: float) -> list[MissRow]:
        return reports.misses(self.db, start, end)

    def incident_misses(self, incident_id: str) -> list[MissRow]:
        return [reports.miss(r) for r in self.db.execute(
            "SELECT * FROM misses WHERE incident_id=? ORDER BY at, id", (incident_id,))]

    # expectations (duty check-in, sub-unit submissions) and roster gap warnings ------------

    def add_expectation(self, *, kind: str, subject: str, title: str, role: str, who: str,
                        due_at: float, ladder: Sequence[LadderStep], at: float,
                        state: str = "pending", met_by: str | None = None,
                        note: str = "") -> bool:
        """Record an expectation; False when (kind, subject) exists already."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO expectations (kind, subject, title, role, who, due_at, ladder, "
            "next_at, state, created_at, met_at, met_by, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (kind, subject, title, role, who, due_at, _ladder_json(ladder),
             min([due_at, *(s.at for s in ladder)]) if state == "pending" else None, state, at,
             at if state == "met" else None, met_by, note),
        )
        return cur.rowcount == 1

    def expectation(self, kind: str, subject: str) -> ExpectationRow | None:
        row = self.db.execute("SELECT * FROM expectations WHERE kind=? AND subject=?",
                              (kind, subject)).fetchone()
        return _expectation(row) if row else None

    def expectations(self, kind: str | None = None, prefix: str = "") -> list[ExpectationRow]:
        """Expectations (of ``kind``, with subjects starting with ``prefix``), oldest due first."""
        return [_expectation(r) for r in self.db.execute(
            "SELECT * FROM expectations WHERE (? IS NULL OR kind=?) AND substr(subject, 1, ?)=? "
            "ORDER BY due_at, id", (kind, kind, len(prefix), prefix))]

    def next_expectation_at(self) -> float | None:
        return self.db.execute("SELECT min(next_at) FROM expectations").fetchone()[0]

    def due_expectations(self, now: float) -> list[ExpectationRow]:
        return [_expectation(r) for r in self.db.execute(
            "SELECT * FROM expectations WHERE next_at<=? ORDER BY next_at, id", (now,))]

    _EXPECTATION_COLUMNS = frozenset(f.name for f in fields(ExpectationRow)) - {"id", "kind",
                                                                              "subject"}

    def update_expectation(self, expectation_id: int, **changes: Any) -> None:
        unknown = set(changes) - self._EXPECTATION_COLUMNS
        if unknown:
            raise TypeError(f"no such expectation fields: {sorted(unknown)}")
        if "ladder" in changes:
            changes["ladder"] = _ladder_json(changes["ladder"])
        names = ", ".join(f"{name}=?" for name in changes)
        self.db.execute(f"UPDATE expectations SET {names} WHERE id=?",  # noqa: S608 (our names)
                        (*changes.values(), expectation_id))

    def expectation_cursor(self, name: str) -> float | None:
        row = self.db.execute("SELECT last_at FROM expectation_cursors WHERE name=?",
                              (name,)).fetchone()
        return row[0] if row else None

    def set_expectation_cursor(self, name: str, at: float) -> None:
        self.db.execute("INSERT INTO expectation_cursors (name, last_at) VALUES (?,?) "
                        "ON CONFLICT (name) DO UPDATE SET last_at=excluded.last_at", (name, at))

    def expectation_cursor_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM expectation_cursors")]

    def drop_expectation_cursor(self, name: str) -> None:
        """Forget a generator's cursor: it starts afresh when next configured."""
        self.db.execute("DELETE FROM expectation_cursors WHERE name=?", (name,))

    def mark_gap_warned(self, key: str, at: float) -> bool:
        """Remember that gap ``key`` was warned about; False when it already was."""
        return self.db.execute("INSERT OR IGNORE INTO gap_warnings (key, at) VALUES (?,?)",
                               (key, at)).rowcount == 1

    # reports (duty reports, weekly briefings) and handover notes ----------------------------

    def keep_report(self, kind: str, period: str, at: float, markdown: str, html: str) -> bool:
        """Keep a rendered report; False when one is already kept for that period (the
        first one stands: a report says what it said when it was made)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO reports (kind, period, created_at, markdown, html) "
            "VALUES (?,?,?,?,?)", (kind, period, at, markdown, html))
        return cursor.rowcount == 1

    def kept_report(self, kind: str, period: str) -> ReportRow | None:
        row = self.db.execute("SELECT * FROM reports WHERE kind=? AND period=?",
                              (kind, period)).fetchone()
        return _row(ReportRow, row) if row else None

    def set_handover_note(self, shift: str, by: str, note: str, at: float) -> None:
        """One note per person and shift: a later note from the same person replaces it."""
        self.db.execute(
            "INSERT INTO handover_notes (shift, by, note, at) VALUES (?,?,?,?) "
            "ON CONFLICT (shift, by) DO UPDATE SET note=excluded.note, at=excluded.at",
            (shift, by, note, at))

    def handover_notes(self, shift: str) -> list[HandoverNoteRow]:
        return [_row(HandoverNoteRow, r) for r in self.db.execute(
            "SELECT by, note, at FROM handover_notes WHERE shift=? ORDER BY at, by", (shift,))]

    def weekly_data(self, start: float, end: float, *, top_stories: int, negative_limit: int,
                    positive_limit: int) -> WeeklyData:
        return reports.weekly(self.db, start, end, top_stories=top_stories,
                              negative_limit=negative_limit, positive_limit=positive_limit)

    def shift_data(self, start: float, end: float, shift: str,
                   sources: Sequence[str] = ()) -> ShiftData:
        return reports.shift(self.db, start, end, self.handover_notes(shift), sources)

    # watches (tracking summaries) and silences ----------------------------------------------
    # (issue 4: yuqingd/runtime/watches.py and yuqingd/runtime/silences.py)

    def start_watch(self, *, rule_id: str, kind: str, key: str, title: str, by: str,
                    recipients: Mapping[str, list[str]], at: float, ends_at: float,
                    summary_every: float, latest_end: float) -> int:
        return _rowid(self.db.execute(
            "INSERT INTO watches (rule_id, kind, group_key, started, ends_at, title, started_by,"
            " recipients, summary_every, next_summary, latest_end) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (rule_id, kind, key, at, ends_at, title, by,
             json.dumps(dict(recipients), ensure_ascii=False), summary_every,
             at + summary_every,
             latest_end),
        ))

    def watch(self, watch_id: int) -> WatchRow | None:
        row = self.db.execute("SELECT * FROM watches WHERE id=?", (watch_id,)).fetchone()
        return _watch(row) if row else None

    def running_watches(self) -> list[WatchRow]:
        return [_watch(r) for r in self.db.execute(
            "SELECT * FROM watches WHERE state='running' ORDER BY id")]

    def running_watch_for(self, rule_id: str, kind: str, key: str) -> WatchRow | None:
        row = self.db.execute(
            "SELECT * FROM watches WHERE rule_id=? AND kind=? AND group_key=? "
            "AND state='running'", (rule_id, kind, key)).fetchone()
        return _watch(row) if row else None

    def set_watch_end(self, watch_id: int, ends_at: float) -> None:
        self.db.execute("UPDATE watches SET ends_at=? WHERE id=?", (ends_at, watch_id))

    def next_watch_time(self) -> float | None:
        """The next summary or end of a running watch."""
        return self.db.execute(
            "SELECT min(min(ends_at, coalesce(next_summary, ends_at))) FROM watches "
            "WHERE state='running'").fetchone()[0]

    def add_watch_item(self, watch_id: int, source: str, item_id: str, at: float,
                       reported: bool = False) -> bool:
        return self.db.execute(
            "INSERT OR IGNORE INTO watch_items VALUES (?,?,?,?,?)",
            (watch_id, source, item_id, at, int(reported))).rowcount > 0

    def watch_items(self, watch_id: int, *, unreported: bool = False) -> list[WatchItemRow]:
        """A watch's items with their source, sentiment, title and link, newest last."""
        return [_row(WatchItemRow, r) for r in self.db.execute(
            "SELECT w.source, w.item_id, w.at, i.title, i.url, i.sentiment FROM watch_items w "
            "JOIN items i ON i.source=w.source AND i.item_id=w.item_id WHERE w.watch_id=?"
            + (" AND w.reported=0" if unreported else "") + " ORDER BY w.at, w.rowid",
            (watch_id,))]

    def record_watch_summary(self, watch_id: int, next_summary: float | None) -> None:
        self.db.execute(
            "UPDATE watches SET summaries=summaries+1, next_summary=? WHERE id=?",
            (next_summary, watch_id))
        self.db.execute("UPDATE watch_items SET reported=1 WHERE watch_id=?", (watch_id,))

    def finish_watch(self, watch_id: int, at: float, by: str) -> None:
        self.db.execute(
            "UPDATE watches SET state='ended', ended_at=?, ended_by=? WHERE id=?",
            (at, by, watch_id))

    def add_silence(self, scope: str, target: str, at: float, ends_at: float, reason: str,
                    by: str) -> int:
        return _rowid(self.db.execute(
            "INSERT INTO silences (scope, target, created_at, ends_at, reason, created_by) "
            "VALUES (?,?,?,?,?,?)", (scope, target, at, ends_at, reason, by)))

    def silence(self, silence_id: int) -> SilenceRow | None:
        row = self.db.execute("SELECT * FROM silences WHERE id=?", (silence_id,)).fetchone()
        return _row(SilenceRow, row) if row else None

    def active_silences(self, now: float) -> list[SilenceRow]:
        return [_row(SilenceRow, r) for r in self.db.execute(
            "SELECT * FROM silences WHERE removed_at IS NULL AND created_at<=? AND ends_at>? "
            "ORDER BY id", (now, now))]

    def remove_silence(self, silence_id: int, at: float, by: str) -> None:
        self.db.execute("UPDATE silences SET removed_at=?, removed_by=? WHERE id=?",
                        (at, by, silence_id))

    # bearer tokens of the HTTP API (yuqingd/tokens.py) ------------------------------------

    def add_token(self, name: str, person: str | None, digest: str, at: float) -> int:
        try:
            return _rowid(self.db.execute(
                "INSERT INTO api_tokens (name, person, digest, created_at) VALUES (?,?,?,?)",
                (name, person, digest, at)))
        except sqlite3.IntegrityError as exc:
            raise ValueError(name) from exc

    def tokens(self) -> list[TokenRow]:
        return [_row(TokenRow, r) for r in self.db.execute(
            "SELECT * FROM api_tokens ORDER BY id")]

    def token_by_digest(self, digest: str) -> TokenRow | None:
        row = self.db.execute("SELECT * FROM api_tokens WHERE digest=?", (digest,)).fetchone()
        return _row(TokenRow, row) if row else None

    def revoke_token(self, token_id: int, at: float) -> bool:
        return self.db.execute(
            "UPDATE api_tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
            (at, token_id)).rowcount == 1

    def touch_token(self, token_id: int, at: float) -> None:
        self.db.execute("UPDATE api_tokens SET last_used_at=? WHERE id=?", (at, token_id))
