"""Versioned schema migrations; ``PRAGMA user_version`` records how far a database has come.

Append new steps; never edit one that has shipped. A step is SQL, or a function of the
connection for one that must read the data it converts (run in the same transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from yuqingd.store.sqlite import legacy_audit

Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = [
    # 1: the walking skeleton
    """
    CREATE TABLE items (
        source       TEXT NOT NULL,
        item_id      TEXT NOT NULL,
        url          TEXT NOT NULL,
        title        TEXT NOT NULL,
        text         TEXT NOT NULL,
        author_hash  TEXT NOT NULL,
        published_at REAL,
        fetched_at   REAL NOT NULL,
        entities     TEXT NOT NULL,   -- JSON [{"entity", "via"}]
        sentiment    TEXT NOT NULL,
        why          TEXT NOT NULL,
        PRIMARY KEY (source, item_id)
    );
    CREATE TABLE source_cursors (
        source     TEXT PRIMARY KEY,
        cursor     TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE rule_hits (
        rule_id   TEXT NOT NULL,
        group_key TEXT NOT NULL,
        source    TEXT NOT NULL,
        item_id   TEXT NOT NULL,
        at        REAL NOT NULL,
        PRIMARY KEY (rule_id, group_key, source, item_id)
    );
    CREATE INDEX rule_hits_window ON rule_hits (rule_id, group_key, at);
    CREATE TABLE incidents (
        id         TEXT PRIMARY KEY,
        rule_id    TEXT NOT NULL,
        group_key  TEXT NOT NULL,
        title      TEXT NOT NULL,
        severity   TEXT NOT NULL,
        chain      TEXT NOT NULL,     -- JSON snapshot of the escalation levels at opening
        level      INTEGER NOT NULL,  -- 1-based level last notified
        status     TEXT NOT NULL,     -- open | acknowledged
        opened_at  REAL NOT NULL,
        acked_at   REAL,
        acked_by   TEXT,
        ack_note   TEXT
    );
    CREATE UNIQUE INDEX incidents_one_active
        ON incidents (rule_id, group_key) WHERE status IN ('open', 'acknowledged');
    CREATE TABLE incident_items (
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        source      TEXT NOT NULL,
        item_id     TEXT NOT NULL,
        at          REAL NOT NULL,
        PRIMARY KEY (incident_id, source, item_id)
    );
    CREATE TABLE deadlines (
        id          INTEGER PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        kind        TEXT NOT NULL,    -- ack | repeat
        level       INTEGER NOT NULL,
        due_at      REAL NOT NULL,
        state       TEXT NOT NULL DEFAULT 'pending',  -- pending | fired | cancelled
        settled_at  REAL
    );
    CREATE INDEX deadlines_due ON deadlines (state, due_at);
    CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,  -- stable: also the notification's idempotency key
        channel         TEXT NOT NULL,
        payload         TEXT NOT NULL,     -- JSON Notification
        created_at      REAL NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        delivered_at    REAL,
        last_error      TEXT
    );
    CREATE INDEX outbox_pending ON outbox (channel, delivered_at, next_attempt_at);
    CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        at          REAL NOT NULL,
        incident_id TEXT,
        action      TEXT NOT NULL,
        actor       TEXT NOT NULL,
        note        TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: items that could not be processed are kept, not lost
    """
    CREATE TABLE dead_letters (
        id      INTEGER PRIMARY KEY,
        at      REAL NOT NULL,
        source  TEXT NOT NULL,
        item_id TEXT NOT NULL,
        error   TEXT NOT NULL,
        item    TEXT NOT NULL   -- JSON of the item as the source gave it
    );
    """,
    # 3: the full rule language: stories, topics, firings, watches, schedules, activity
    """
    ALTER TABLE items ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE items ADD COLUMN severity TEXT NOT NULL DEFAULT '一般';
    ALTER TABLE items ADD COLUMN story_id INTEGER;
    CREATE TABLE stories (
        id         INTEGER PRIMARY KEY,
        simhash    INTEGER NOT NULL,   -- 64-bit SimHash of the normalised text, signed
        title      TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen  REAL NOT NULL,
        items      INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX stories_recent ON stories (last_seen);
    CREATE TABLE firings (           -- a rule fired for a key (cool-downs, flatline episodes)
        rule_id   TEXT NOT NULL,
        group_key TEXT NOT NULL,
        at        REAL NOT NULL
    );
    CREATE INDEX firings_last ON firings (rule_id, group_key, at);
    CREATE TABLE activity (          -- last matching item per source / topic (flatline)
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        last_at REAL NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE watches (
        id        INTEGER PRIMARY KEY,
        rule_id   TEXT NOT NULL,
        kind      TEXT NOT NULL,     -- entity | topic | story | source
        group_key TEXT NOT NULL,
        started   REAL NOT NULL,
        ends_at   REAL NOT NULL,
        state     TEXT NOT NULL DEFAULT 'running'   -- running | ended
    );
    CREATE INDEX watches_due ON watches (state, ends_at);
    CREATE TABLE item_tags (
        source  TEXT NOT NULL,
        item_id TEXT NOT NULL,
        tag     TEXT NOT NULL,
        PRIMARY KEY (source, item_id, tag)
    );
    CREATE TABLE schedule_state (    -- when each schedule rule last fired
        rule_id  TEXT PRIMARY KEY,
        last_at  REAL NOT NULL
    );
    """,
    # 4: engagement as the source reported it; indexes for reports and stories
    """
    ALTER TABLE items ADD COLUMN reposts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE items ADD COLUMN comments INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX items_fetched ON items (fetched_at);
    CREATE INDEX items_story ON items (story_id);
    """,
    # 5: report-within-time: the lifecycle stage, the deadlines snapshotted at
    # opening, and who held the responsible role when a deadline was missed (问责)
    """
    ALTER TABLE incidents ADD COLUMN stage TEXT NOT NULL DEFAULT 'opened';
    ALTER TABLE incidents ADD COLUMN deadlines TEXT NOT NULL DEFAULT '{}';
    UPDATE incidents SET stage = CASE status WHEN 'open' THEN 'opened' ELSE status END;
    ALTER TABLE deadlines ADD COLUMN role TEXT;
    ALTER TABLE deadlines ADD COLUMN who TEXT;
    """,
    # 6: expectations of people (duty check-in, sub-unit submissions) and roster gap warnings
    """
    CREATE TABLE expectations (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,     -- check_in | submission
        subject     TEXT NOT NULL,     -- 2026-11-02/白班/张明, 旗县区信息周报/A旗/2026-11-30
        title       TEXT NOT NULL,     -- what is expected, for people
        role        TEXT NOT NULL,     -- the role (check-in) or the unit (submission) expected
        who         TEXT NOT NULL,     -- the people expected, as known at creation
        due_at      REAL NOT NULL,
        ladder      TEXT NOT NULL,     -- JSON [{"at", "action", "roles", "people"}]
        level       INTEGER NOT NULL DEFAULT 0,  -- ladder steps done
        next_at     REAL,              -- next action (miss or step), NULL when nothing is left
        state       TEXT NOT NULL DEFAULT 'pending',  -- pending | missed | met
        created_at  REAL NOT NULL,
        missed_at   REAL,
        missed_who  TEXT,              -- accountability: who held it when it was missed
        met_at      REAL,
        met_by      TEXT,
        note        TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, subject)
    );
    CREATE INDEX expectations_next ON expectations (next_at);
    CREATE TABLE expectation_cursors (  -- how far each generator of expectations has come
        name    TEXT PRIMARY KEY,
        last_at REAL NOT NULL
    );
    CREATE TABLE gap_warnings (         -- roster gaps already warned about (once each)
        key TEXT PRIMARY KEY,           -- 2026-11-19/白班/值班员
        at  REAL NOT NULL
    );
    """,
    # 7: kept duty reports and weekly briefings, handover notes
    """
    CREATE TABLE reports (           -- one per kind and period, kept as first rendered
        kind       TEXT NOT NULL,    -- duty | weekly
        period     TEXT NOT NULL,    -- 2026-11-02/白班, 2026-11-02 (a day), 2026-W47
        created_at REAL NOT NULL,
        markdown   TEXT NOT NULL,
        html       TEXT NOT NULL,
        PRIMARY KEY (kind, period)
    );
    CREATE TABLE handover_notes (    -- the outgoing officer's note, for the shift's report
        shift TEXT NOT NULL,         -- the shift's period id, as in reports
        by    TEXT NOT NULL,
        note  TEXT NOT NULL,
        at    REAL NOT NULL,
        PRIMARY KEY (shift, by)
    );
    """,
    # 8: watches and silences: tracking summaries, a watch's items, silences
    """
    ALTER TABLE watches ADD COLUMN title TEXT NOT NULL DEFAULT '';
    ALTER TABLE watches ADD COLUMN started_by TEXT NOT NULL DEFAULT 'yuqingd';
    ALTER TABLE watches ADD COLUMN recipients TEXT NOT NULL DEFAULT '{}';  -- JSON roles/people
    ALTER TABLE watches ADD COLUMN summary_every REAL;
    ALTER TABLE watches ADD COLUMN next_summary REAL;
    ALTER TABLE watches ADD COLUMN summaries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE watches ADD COLUMN latest_end REAL;      -- activity extends it up to here
    ALTER TABLE watches ADD COLUMN ended_at REAL;
    ALTER TABLE watches ADD COLUMN ended_by TEXT;
    CREATE TABLE watch_items (
        watch_id INTEGER NOT NULL REFERENCES watches (id),
        source   TEXT NOT NULL,
        item_id  TEXT NOT NULL,
        at       REAL NOT NULL,
        reported INTEGER NOT NULL DEFAULT 0,   -- 1 once a summary counted it as new
        PRIMARY KEY (watch_id, source, item_id)
    );
    CREATE TABLE silences (
        id         INTEGER PRIMARY KEY,
        scope      TEXT NOT NULL,     -- rule | key | source
        target     TEXT NOT NULL,
        created_at REAL NOT NULL,
        ends_at    REAL NOT NULL,
        reason     TEXT NOT NULL,
        created_by TEXT NOT NULL,
        removed_at REAL,
        removed_by TEXT
    );
    CREATE INDEX silences_active ON silences (ends_at);
    """,
    # 9: one record of obligations missed (incident deadlines, check-ins, submissions): who
    # held each when it passed and whether that counts against them (问责). Misses recorded
    # before, in deadlines.who / expectations.missed_who with their annotations, are carried
    # over, so a database in service keeps its accountability history.
    """
    CREATE TABLE misses (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,     -- ack, first_report … (deadlines), check_in, submission
        subject     TEXT NOT NULL,     -- the incident id, or the expectation's subject
        title       TEXT NOT NULL,
        due_at      REAL NOT NULL,
        at          REAL NOT NULL,     -- when the miss was recorded
        role        TEXT NOT NULL,
        who         TEXT NOT NULL,     -- names only
        level       INTEGER NOT NULL,
        counts      INTEGER NOT NULL,  -- 1: held against them
        reason      TEXT NOT NULL DEFAULT '',  -- silenced | daemon_down when it does not count
        incident_id TEXT REFERENCES incidents (id)
    );
    CREATE INDEX misses_at ON misses (at);
    CREATE INDEX misses_incident ON misses (incident_id);
    INSERT INTO misses (kind, subject, title, due_at, at, role, who, level, counts, reason,
                        incident_id)
        SELECT d.kind, d.incident_id, i.title, d.due_at, coalesce(d.settled_at, d.due_at),
               d.role, replace(d.who, '（通知已静默）', ''), d.level,
               d.who NOT LIKE '%（通知已静默）',
               CASE WHEN d.who LIKE '%（通知已静默）' THEN 'silenced' ELSE '' END, d.incident_id
        FROM deadlines d JOIN incidents i ON i.id = d.incident_id
        WHERE d.who IS NOT NULL ORDER BY coalesce(d.settled_at, d.due_at), d.id;
    INSERT INTO misses (kind, subject, title, due_at, at, role, who, level, counts, reason)
        SELECT kind, subject, title, due_at, missed_at, role,
               replace(missed_who, '（到期时服务未运行）', ''), 0,
               missed_who NOT LIKE '%（到期时服务未运行）',
               CASE WHEN missed_who LIKE '%（到期时服务未运行）' THEN 'daemon_down' ELSE '' END
        FROM expectations WHERE missed_at IS NOT NULL ORDER BY missed_at, id;
    """,
    # 10: retention of personal information (PIPL): how far items have been purged, and indexes
    # to prune rule hits and firings by age
    """
    CREATE TABLE retention (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        purged_before REAL NOT NULL,   -- items found before this have been purged
        last_run      REAL NOT NULL
    );
    CREATE INDEX rule_hits_at ON rule_hits (at);
    CREATE INDEX firings_at ON firings (at);
    """,
    # 11: typed audit: an entry is an action plus JSON fields (the old prose notes converted);
    # a missed deadline's excuse leaves ``who`` for a column of its own
    legacy_audit.migrate,
    # 12: an expectation's missed_who is names only (why a miss does not count is the miss
    # record's reason since 9)
    """
    UPDATE expectations SET missed_who = replace(missed_who, '（到期时服务未运行）', '')
        WHERE missed_who LIKE '%（到期时服务未运行）';
    """,
    # 13: fallback channels per person: a notification moved to a person's next channel says
    # which channel it came from; a channel failing without a success since is remembered, so
    # "failing for longer than fallback_after" survives a restart
    """
    ALTER TABLE outbox ADD COLUMN fallback_from TEXT;
    CREATE TABLE channel_failures (
        channel TEXT PRIMARY KEY,
        since   REAL NOT NULL      -- the first failure after the last success
    );
    """,
    # 14: bearer tokens of the HTTP API (issue 9): the SHA-256 of each token, never the token;
    # a name is unique among the live ones (a revoked name may be given again)
    """
    CREATE TABLE api_tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        person       TEXT,             -- whom its actions are recorded as (NULL: the name)
        digest       TEXT NOT NULL UNIQUE,
        created_at   REAL NOT NULL,
        revoked_at   REAL,
        last_used_at REAL
    );
    CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
    """,
]
