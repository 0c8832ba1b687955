"""The SQLite store: WAL, versioned migrations, dedupe, atomic transactions."""

from __future__ import annotations

import sqlite3

import pytest

from yuqingd.model import Enrichment, Item
from yuqingd.store.sqlite import StateInUse, Store
from yuqingd.store.sqlite.migrations import MIGRATIONS

NOTHING = Enrichment((), "neutral", 0.0, (), "")


def test_store_new_database_is_wal_and_fully_migrated(tmp_path):
    """A new state file is created in WAL mode at the newest schema version."""
    store = Store(tmp_path / "state" / "y.sqlite3")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)
    store.close()


def test_store_reopening_keeps_data_and_does_not_migrate_twice(tmp_path):
    """Opening an existing file keeps its rows and re-runs no migration."""
    path = tmp_path / "y.sqlite3"
    store = Store(path)
    assert store.add_item(Item("forum", "1", "标题"), NOTHING, "", 1.0)
    store.close()
    store = Store(path)
    assert store.item_count() == 1 and store.schema_version == len(MIGRATIONS)
    store.close()


def test_store_items_are_deduplicated_by_source_and_id(tmp_path):
    """The same (source, id) is stored once; the same id from another source is another item."""
    store = Store(tmp_path / "y.sqlite3")
    assert store.add_item(Item("forum", "1", "a"), NOTHING, "", 1.0)
    assert not store.add_item(Item("forum", "1", "a again"), NOTHING, "", 2.0)
    assert store.add_item(Item("news", "1", "b"), NOTHING, "", 3.0)
    assert store.item_count() == 2


def test_store_transaction_is_all_or_nothing(tmp_path):
    """An error inside a transaction leaves no partial write behind."""
    store = Store(tmp_path / "y.sqlite3")
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.add_item(Item("forum", "1", "a"), NOTHING, "", 1.0)
        store.set_cursor("forum", "1", 1.0)
        store.db.execute("INSERT INTO incident_items VALUES ('missing', 'forum', '1', 1.0)")
    assert store.item_count() == 0 and store.cursor("forum") is None


def test_store_only_one_active_incident_per_rule_and_key(tmp_path):
    """The schema itself refuses a second open incident for the same rule and key."""
    store = Store(tmp_path / "y.sqlite3")
    store.add_incident("20260510-001", "r", "六处学校", "t", "较大", [], 1.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_incident("20260510-002", "r", "六处学校", "t", "较大", [], 2.0)


def test_store_one_daemon_per_state_file(tmp_path):
    """A second opener of the same database is refused while the first holds it."""
    first = Store(tmp_path / "y.sqlite3")
    with pytest.raises(StateInUse, match="另一个 yuqingd 正在使用"):
        Store(tmp_path / "y.sqlite3")
    first.close()
    Store(tmp_path / "y.sqlite3").close()


def test_store_keeps_engagement_counts(tmp_path):
    """Reposts and comments as the source reported them are stored with the item."""
    store = Store(tmp_path / "y.sqlite3")
    store.add_item(Item("weibo", "1", "转发很多", reposts=500, comments=80), NOTHING, "", 1.0)
    row = store.db.execute("SELECT reposts, comments FROM items").fetchone()
    assert tuple(row) == (500, 80)


def test_outbox_delivers_what_was_written_together_in_written_order(tmp_path):
    """A reminder and the escalation after it, written in one pass (e.g. at start after an
    outage), go out in that order — not in the alphabetical order of their ids."""
    store = Store(tmp_path / "s.sqlite3")
    with store.transaction():
        store.enqueue("x:expectation.reminded:L1:phone", "phone", {"n": 1}, 100.0)
        store.enqueue("x:expectation.escalated:L2:phone", "phone", {"n": 2}, 100.0)
        store.enqueue("x:expectation.escalated:L3:phone", "phone", {"n": 3}, 100.0)
    assert [row.payload["n"] for row in store.pending_outbox("phone", 100.0)] == [1, 2, 3]


def test_store_migration_carries_misses_recorded_before_into_the_miss_record(tmp_path):
    """A database in service before the miss record keeps its accountability history: missed
    deadlines and expectations, with their annotations read as "does not count" and why."""
    path = tmp_path / "y.sqlite3"
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if "CREATE TABLE misses" in m))
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:before]:
        db.executescript(script)
    db.executescript(f"""
        PRAGMA user_version = {before};
        INSERT INTO incidents (id, rule_id, group_key, title, severity, chain, level, status,
                               opened_at)
            VALUES ('i1', 'r', 'k', '事件', '较大', '[]', 2, 'open', 0);
        INSERT INTO deadlines (incident_id, kind, level, due_at, state, settled_at, role, who)
            VALUES ('i1', 'ack', 1, 10, 'fired', 11, '值班员', '张明（通知已静默）'),
                   ('i1', 'first_report', 2, 20, 'fired', 21, '办公室主任', '李华'),
                   ('i1', 'ack', 2, 30, 'pending', NULL, NULL, NULL);
        INSERT INTO expectations (kind, subject, title, role, who, due_at, ladder, state,
                                  created_at, missed_at, missed_who)
            VALUES ('check_in', 'd/白班/赵丽', '值班签到', '值班员', '赵丽', 5, '[]', 'missed',
                    0, 15, '赵丽（到期时服务未运行）');
    """)
    db.commit()
    db.close()
    store = Store(path)
    assert [(m.kind, m.at, m.who, m.counts, m.reason, m.incident_id)
            for m in store.misses(0, 100)] == [
        ("ack", 11, "张明", False, "silenced", "i1"),
        ("check_in", 15, "赵丽", False, "daemon_down", None),
        ("first_report", 21, "李华", True, "", "i1")]


def test_store_purge_blanks_text_and_author_hash_columns(tmp_path):
    """After a purge nothing personal is left in an old item's row, cited or not; the
    retention state survives reopening the file."""
    path = tmp_path / "y.sqlite3"
    store = Store(path)
    with store.transaction():
        store.add_item(Item("forum", "1", "标题", "正文", "https://x/1", author="张三"), NOTHING,
                       "a1b2c3d4e5f60718", 1.0)
        store.add_incident("20260510-001", "r", "k", "标题", "一般", [{"notify": "值班员"}], 1.0)
        store.attach_item("20260510-001", "forum", "1", 1.0)
        store.add_item(Item("forum", "2", "标题二", "正文二", "https://x/2"), NOTHING,
                       "a1b2c3d4e5f60719", 2.0)
        store.purge(10.0, 20.0)
    rows = store.db.execute("SELECT item_id, title, text, url, author_hash FROM items "
                            "ORDER BY item_id").fetchall()
    assert [tuple(r) for r in rows] == [("1", "标题", "", "https://x/1", ""),
                                        ("2", "", "", "", "")]
    store.close()
    store = Store(path)
    assert store.last_purge() == 20.0
    store.close()
