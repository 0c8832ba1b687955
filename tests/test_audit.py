"""Typed audit: one call writes the entry, emits the event and logs it; the wording happens when
shown; databases written before (prose notes, annotated names) are converted by a migration and
read as they did."""

from __future__ import annotations

import json
import sqlite3

import pytest
from structlog.testing import capture_logs

from yuqingd.events import Events
from yuqingd.reports.audit import action_text, actor_text, note_text
from yuqingd.runtime.audit import Audit
from yuqingd.store import open_store
from yuqingd.store.sqlite.migrations import MIGRATIONS


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "y.db")
    yield opened
    opened.close()


def test_audit_record_writes_the_entry_emits_the_event_and_logs_it(store):
    """One call: the entry keeps every field (incident and actor as its own columns); the event
    carries the declared fields in the published order; the log line has them all."""
    events = Events()
    seen: list[dict] = []
    events.subscribe(seen.append)
    audit = Audit(store, events)
    with capture_logs() as logs:
        audit.record("escalated", 100.0, level=2, key="六处学校", incident="i1", rule="r",
                     from_level=1, late_seconds=1200.0)
        audit.record("acknowledged", 200.0, incident="i1", rule="r", key="六处学校",
                     by="张三", note="收到")
    assert seen == [
        {"at": 100.0, "event": "incident.escalated", "incident": "i1", "rule": "r",
         "key": "六处学校", "level": 2},
        {"at": 200.0, "event": "incident.acknowledged", "incident": "i1", "rule": "r",
         "key": "六处学校", "by": "张三", "note": "收到"}]
    assert list(seen[0]) == ["at", "event", "incident", "rule", "key", "level"]
    escalated, acked = store.incident_audit("i1")
    assert (escalated.actor, escalated.fields) == ("yuqingd", {
        "level": 2, "key": "六处学校", "rule": "r", "from_level": 1, "late_seconds": 1200.0})
    assert (acked.actor, acked.fields) == ("张三", {"rule": "r", "key": "六处学校",
                                                    "note": "收到"})
    assert [(e["event"], e["log_level"], e["action"], e["incident"]) for e in logs] == [
        ("incident.escalated", "warning", "escalated", "i1"),
        ("incident.acknowledged", "info", "acknowledged", "i1")]
    assert logs[0]["late_seconds"] == 1200.0


def test_audit_an_action_without_an_event_is_still_recorded_and_logged(store):
    events = Events()
    seen: list[dict] = []
    events.subscribe(seen.append)
    with capture_logs() as logs:
        Audit(store, events).record("repeats.done", 5.0, incident="i1", level=3, times=2)
    assert seen == []
    assert [(e.action, e.fields) for e in store.incident_audit("i1")] == [
        ("repeats.done", {"level": 3, "times": 2})]
    assert logs[0]["event"] == "repeats.done"


def test_audit_refuses_an_undeclared_action(store):
    """Every action is declared once (its event, its words): an undeclared one is a bug."""
    with pytest.raises(KeyError):
        Audit(store, Events()).record("escalatd", 1.0, incident="i1")
    assert store.incident_audit("i1") == []


def test_audit_auto_close_event_keeps_its_note_while_the_entry_keeps_the_quiet_time(store):
    """The event stream is a published format: closing by quiet still says so in ``note``;
    the entry keeps the number, worded when shown."""
    events = Events()
    seen: list[dict] = []
    events.subscribe(seen.append)
    Audit(store, events).record("closed", 9.0, incident="i1", rule="r", by="yuqingd", note="",
                                quiet=7200.0)
    assert seen[0]["note"] == "确认后 7200s 内无新信息，自动关闭"
    (entry,) = store.incident_audit("i1")
    assert entry.fields == {"rule": "r", "note": "", "quiet": 7200.0}
    assert note_text(entry.action, entry.fields) == "确认后 2小时内无新信息，自动关闭"


# Notes exactly as schema 8 wrote them (yuqingd before typed audit), and how they read then.
OLD_NOTES = [
    ("opened", "yuqingd", "rule=negative-burst key=六处学校",
     "生成事件", "规则 negative-burst，对象 六处学校"),
    ("notification.silenced", "yuqingd",
     "20260510-001:incident.opened:L1:open:duty-phone silence=1",
     "通知被静默，未发出", "第1级事件生成通知（duty-phone）被静默 #1 拦下"),
    ("missed.ack", "yuqingd",
     "第1级 值班员 张明 未在时限内确认（该级通知已被静默，未送达，不计入问责）",
     "确认逾期", "第1级 值班员 张明 未在时限内确认（该级通知已被静默，未送达，不计入问责）"),
    ("escalated", "yuqingd", "level 1 → 2; late by 1200s",
     "超时未确认，升级", "第1级 → 第2级，超时 20分钟"),
    ("escalated", "yuqingd", "level 1 → 2; late by 0s", "超时未确认，升级", "第1级 → 第2级"),
    ("missed.first_report", "yuqingd", "第2级 办公室主任 李华、王强 未在时限内首报",
     "首报逾期", "第2级 办公室主任 李华、王强 未在时限内首报"),
    ("escalated", "yuqingd", "level 2 → 3; first_report overdue",
     "首报逾期，升级", "第2级 → 第3级，首报逾期"),
    ("repeated", "yuqingd", "level 3", "仍未确认，再次提醒", "第3级"),
    ("repeats.done", "yuqingd", "level 3: reminded 2 times", "提醒次数已满，停止提醒",
     "第3级已提醒 2 次"),
    ("acknowledged", "王强", "level 1 → 2 已核实", "确认", "level 1 → 2 已核实"),
    ("report.first", "王强", "已电话报告", "首报", "已电话报告"),
    ("downgraded", "yuqingd", "较大 → 一般：1h30m 内无新信息", "无新信息，降低严重程度",
     "较大 → 一般：1小时30分钟内无新信息"),
    ("closed", "yuqingd", "确认后 3600s 内无新信息，自动关闭", "结案",
     "确认后 1小时内无新信息，自动关闭"),
    ("closed", "李华", "已核实，不实信息", "结案", "已核实，不实信息"),
    ("acknowledged", "张明", "", "确认", ""),
]
OLD_UNLINKED = [  # not about an incident
    ("silence.added", "张明",
     "silence=1 rule=negative-burst until=2026-05-10T12:00:00+08:00 reason=演练",
     "静默 #1：规则 negative-burst，至 2026-05-10T12:00:00+08:00，原因：演练"),
    ("silence.removed", "张明", "silence=1", "静默 #1"),
    ("watch.started", "张明", "watch=2 entity=六处学校", "跟踪 #2：监测对象 六处学校"),
    ("watch.ended", "yuqingd", "watch=2 到期结束", "跟踪 #2：到期结束"),
    ("watch.ended", "张明", "watch=3 由 张明 停止", "跟踪 #3：由 张明 停止"),
]


def old_database(path) -> None:
    """A database at schema 8, with history written by the daemon of then."""
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:8]:
            assert isinstance(script, str)
            db.executescript(script)
        db.execute("PRAGMA user_version=8")
        db.execute("INSERT INTO incidents (id, rule_id, group_key, title, severity, chain, "
                   "level, status, opened_at) VALUES ('20260510-001', 'negative-burst', "
                   "'六处学校', '涉校负面信息集中出现', '较大', '[{\"notify\": \"值班员\"}]', 3, "
                   "'closed', 0)")
        for n, (action, actor, note, *_) in enumerate(OLD_NOTES):
            db.execute("INSERT INTO audit (at, incident_id, action, actor, note) "
                       "VALUES (?, '20260510-001', ?, ?, ?)", (float(n), action, actor, note))
        for n, (action, actor, note, _) in enumerate(OLD_UNLINKED):
            db.execute("INSERT INTO audit (at, action, actor, note) VALUES (?, ?, ?, ?)",
                       (100.0 + n, action, actor, note))
        db.executemany("INSERT INTO deadlines (incident_id, kind, level, due_at, state, role, "
                       "who) VALUES ('20260510-001', 'ack', ?, ?, 'fired', ?, ?)",
                       [(1, 10.0, "值班员", "张明（通知已静默）"), (2, 20.0, "办公室主任", "李华")])
        db.executemany("INSERT INTO expectations (kind, subject, title, role, who, due_at, "
                       "ladder, state, created_at, missed_at, missed_who) VALUES ('check_in', "
                       "?, '值班签到', '值班员', ?, 0, '[]', 'missed', 0, 0, ?)",
                       [("2026-05-11/全天/赵丽", "赵丽", "赵丽（到期时服务未运行）"),
                        ("2026-05-12/全天/张明", "张明", "张明")])


def test_migration_converts_old_notes_into_fields_that_read_as_before(tmp_path):
    """A database in service before typed audit: every note becomes fields, and each entry
    reads exactly as the old parser said it; a person's note stays as written; annotated
    names become a name and an excuse."""
    path = tmp_path / "y.db"
    old_database(path)
    store = open_store(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        entries = store.incident_audit("20260510-001")
        assert [(e.action, e.actor) for e in entries] == [(a, b) for a, b, *_ in OLD_NOTES]
        shown = [(action_text(e.action, e.fields), note_text(e.action, e.fields, e.actor))
                 for e in entries]
        assert shown == [(action, note) for *_, action, note in OLD_NOTES]
        assert actor_text(entries[0].actor) == "系统"
        assert entries[3].fields == {"from_level": 1, "level": 2, "late_seconds": 1200.0}
        assert entries[2].fields["silenced"] is True and entries[2].fields["who"] == "张明"
        assert entries[13].fields == {"note": "已核实，不实信息"}
        assert [(d.who, d.excused) for d in store.incident_deadlines("20260510-001")] == [
            ("张明", "silenced"), ("李华", None)]
        assert [e.missed_who for e in store.expectations("check_in")] == ["赵丽", "张明"]
        assert sorted((m.who, m.reason) for m in store.misses(0.0, float("inf"))) == [
            ("张明", ""), ("张明", "silenced"), ("李华", ""), ("赵丽", "daemon_down")]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(audit)")]
        assert "note" not in columns and "fields" in columns
        unlinked = db.execute("SELECT action, actor, fields FROM audit WHERE incident_id IS NULL "
                              "ORDER BY at").fetchall()
    assert [note_text(action, json.loads(fields), actor) for action, actor, fields in unlinked
            ] == [said for *_, said in OLD_UNLINKED]


def test_migration_keeps_an_unparsed_daemon_note_readable(tmp_path):
    """A daemon note of an unexpected shape is kept whole as the entry's note."""
    path = tmp_path / "y.db"
    old_database(path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO audit (at, incident_id, action, actor, note) VALUES "
                   "(50, '20260510-001', 'escalated', 'yuqingd', 'level one to two')")
    store = open_store(path)
    try:
        entry = store.incident_audit("20260510-001")[-1]
        assert entry.fields == {"note": "level one to two"}
        assert note_text(entry.action, entry.fields) == "level one to two"
    finally:
        store.close()
