"""Store conformance: what every backend of :mod:`yuqingd.store.api` must do, written against the
API only. Parametrised over backends: a new backend (PostgreSQL) adds its factory to BACKENDS
and must pass the same suite."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from yuqingd.model import Enrichment, EntityHit, Item
from yuqingd.store import api, open_store
from yuqingd.store.api import LadderStep, LevelStep, StateInUse, Store

NEUTRAL = Enrichment((), "neutral", 0.0, (), "")


def negative(severity: str = "一般", topics: tuple[str, ...] = ()) -> Enrichment:
    return Enrichment((EntityHit("六处学校", "六处学校"),), "negative", -1.0, (), "",
                      topics=topics, severity=severity)


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": lambda tmp: open_store(tmp / "y.db")}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request) -> Callable[[Path], Store]:
    return BACKENDS[request.param]


@pytest.fixture
def store(backend, tmp_path) -> Iterator[Store]:
    opened = backend(tmp_path)
    yield opened
    opened.close()


def test_store_backend_implements_every_method_of_the_api(store):
    """Each method the Protocol declares exists on the backend with a compatible signature."""
    for name, member in inspect.getmembers(api.Store):
        if name.startswith("_") or not callable(member):
            continue
        implemented = getattr(type(store), name, None)
        assert callable(implemented), name
        declared = set(inspect.signature(member).parameters)
        assert declared <= set(inspect.signature(implemented).parameters), name


def test_store_rows_are_frozen_dataclasses(store):
    """What crosses the boundary is typed and immutable, readable by attribute and by name."""
    store.add_incident("20260510-001", "r", "六处学校", "标题", "较大",
                       [{"notify": "值班员", "ack_within": 900.0}], 1.0)
    incident = store.incident("20260510-001")
    assert dataclasses.is_dataclass(incident)
    with pytest.raises(dataclasses.FrozenInstanceError):
        incident.level = 2  # type: ignore[misc]
    assert incident.chain == (LevelStep("值班员", ack_within=900.0),)
    assert incident.chain[0]["notify"] == "值班员" and incident.chain[0].get("repeat_every") is None
    assert incident["title"] == incident.title == "标题"


def test_store_transaction_is_all_or_nothing_and_not_reentrant(store):
    """A failure inside a transaction leaves nothing behind; nesting one is refused."""
    with pytest.raises(ZeroDivisionError), store.transaction():
        store.add_item(Item("forum", "1", "a"), NEUTRAL, "", 1.0)
        store.set_cursor("forum", "c1", 1.0)
        _ = 1 / 0
    assert store.item_count() == 0 and store.cursor("forum") is None
    with pytest.raises(RuntimeError, match="re-entrant"), store.transaction(), \
            store.transaction():
        pass


def test_store_second_opener_of_the_same_state_is_refused(backend, tmp_path, store):
    """One daemon per database: a second open raises StateInUse (a StoreError)."""
    with pytest.raises(StateInUse):
        backend(tmp_path)
    assert issubclass(StateInUse, api.StoreError)


def test_store_items_dedupe_and_read_back(store):
    """(source, id) is stored once; the stored item reads back with its analysis."""
    assert store.add_item(Item("forum", "1", "六处学校体罚", url="https://f/1"),
                          negative("较大"), "h", 10.0, story_id=None)
    assert not store.add_item(Item("forum", "1", "again"), NEUTRAL, "", 11.0)
    row = store.item("forum", "1")
    assert (row.title, row.url, row.sentiment, row.severity, row.fetched_at) == (
        "六处学校体罚", "https://f/1", "negative", "较大", 10.0)
    assert store.item("forum", "2") is None and store.has_item("forum", "1")


def test_store_windows_count_hits_in_half_open_spans(store):
    """Hits count at since ≤ at < before, per rule and key."""
    for n, at in enumerate((10.0, 20.0, 30.0)):
        store.add_hit("r", "k", Item("forum", str(n), "t"), at)
    assert store.count_hits("r", "k", 10.0) == 3
    assert store.count_hits("r", "k", 10.0, before=30.0) == 2
    assert store.hits_in_window("r", "k", 20.0) == [("forum", "1", 20.0), ("forum", "2", 30.0)]
    assert store.count_hits("r", "other", 0.0) == 0


def test_store_incident_deadlines_settle_once_and_ack_stops_only_the_ladder(store):
    """A due deadline settles once; an acknowledgement meets the ack, cancels repeats and
    leaves report deadlines pending."""
    store.add_incident("i1", "r", "k", "t", "较大", [{"notify": "值班员"}], 0.0)
    ack = store.add_deadline("i1", "ack", 1, 100.0)
    store.add_deadline("i1", "first_report", 1, 200.0)
    assert [d.id for d in store.due_deadlines(100.0)] == [ack]
    assert store.settle_deadline(ack, 100.0) and not store.settle_deadline(ack, 100.0)
    store.add_deadline("i1", "repeat", 2, 300.0)
    store.acknowledge("i1", "张三", "收到", 150.0)
    states = {(d.kind, d.state) for d in store.incident_deadlines("i1")}
    assert states == {("ack", "fired"), ("first_report", "pending"), ("repeat", "cancelled")}
    assert store.pending_reports("i1") == 1
    incident = store.incident("i1")
    assert (incident.status, incident.acked_by, incident.stage) == ("acknowledged", "张三",
                                                                    "acknowledged")


def test_store_audit_entries_keep_action_actor_and_fields(store):
    """An audit entry comes back as written: its fields as JSON values (Chinese, numbers,
    lists, nesting), per incident in time order; the last time of an action is known."""
    fields = {"from_level": 1, "level": 2, "late": 1200.5, "who": "张三、李四",
              "to": [{"role": "值班员"}], "silenced": True}
    store.audit(20.0, "escalated", "yuqingd", "i1", fields)
    store.audit(10.0, "opened", "yuqingd", "i1", {"rule": "r", "key": "六处学校"})
    store.audit(30.0, "acknowledged", "张三", "i1", {"note": "收到"})
    store.audit(40.0, "silence.added", "李四", None, {"silence": 1})
    store.audit(50.0, "opened", "yuqingd", "i2")
    entries = store.incident_audit("i1")
    assert [(e.at, e.action, e.actor, e.incident_id) for e in entries] == [
        (10.0, "opened", "yuqingd", "i1"), (20.0, "escalated", "yuqingd", "i1"),
        (30.0, "acknowledged", "张三", "i1")]
    assert entries[1].fields == fields and entries[2].note == "收到" and entries[0].note == ""
    assert store.incident_audit("i2")[0].fields == {}
    assert store.last_audit("i1", "acknowledged") == 30.0
    assert store.last_audit("i1", "closed") is None


def test_store_missed_deadline_keeps_who_and_the_excuse_apart(store):
    """Who held a missed deadline is a name; why it is not held against them is its own
    value (not words appended to the name)."""
    store.add_incident("i1", "r", "k", "t", "重大", [{"notify": "值班员"}], 0.0)
    first = store.add_deadline("i1", "ack", 1, 10.0)
    second = store.add_deadline("i1", "ack", 2, 20.0)
    store.record_miss(first, "值班员", "张三", "silenced")
    store.record_miss(second, "带班领导", "李四")
    assert [(d.role, d.who, d.excused) for d in store.incident_deadlines("i1")] == [
        ("值班员", "张三", "silenced"), ("带班领导", "李四", None)]


def test_store_expectation_ladders_round_trip_typed(store):
    """An expectation's ladder is given and read back as LadderSteps, updates included."""
    ladder = [LadderStep(100.0, "remind", people=("张三",)),
              LadderStep(200.0, "escalate", roles=("带班领导",))]
    assert store.add_expectation(kind="check_in", subject="2026-05-10/白班/张三",
                                 title="值班签到", role="值班员", who="张三", due_at=150.0,
                                 ladder=ladder, at=0.0)
    row = store.expectation("check_in", "2026-05-10/白班/张三")
    assert row.ladder == tuple(ladder) and row.next_at == 100.0
    skipped = [dataclasses.replace(ladder[0], skipped=True), ladder[1]]
    store.update_expectation(row.id, ladder=skipped, level=1, next_at=200.0)
    (due,) = store.due_expectations(200.0)
    assert due.ladder[0].skipped and due.level == 1
    assert store.expectations("check_in", "2026-05-10/") == [due]
    with pytest.raises(TypeError):
        store.update_expectation(row.id, nonsense=1)


def test_store_watches_keep_recipients_and_items(store):
    """A watch reads back with its recipients decoded; its items report once."""
    store.add_item(Item("forum", "1", "帖子", url="https://f/1"), negative(), "", 5.0)
    watch = store.start_watch(rule_id="r", kind="entity", key="六处学校", title="跟踪",
                              by="yuqingd", recipients={"roles": ["值班员"]}, at=0.0,
                              ends_at=100.0, summary_every=50.0, latest_end=200.0)
    assert store.add_watch_item(watch, "forum", "1", 5.0)
    row = store.running_watch_for("r", "entity", "六处学校")
    assert row.recipients == {"roles": ["值班员"]} and row.next_summary == 50.0
    assert [(i.title, i.sentiment) for i in store.watch_items(watch, unreported=True)] == [
        ("帖子", "negative")]
    store.record_watch_summary(watch, 100.0)
    assert store.watch_items(watch, unreported=True) == []
    store.finish_watch(watch, 100.0, "张三")
    assert store.running_watches() == [] and store.watch(watch).ended_by == "张三"


def test_store_silences_are_active_in_their_span_until_removed(store):
    """A silence is active from its creation until it ends or is removed."""
    sid = store.add_silence("rule", "r", 10.0, 100.0, "维护", "张三")
    assert [s.id for s in store.active_silences(50.0)] == [sid]
    assert store.active_silences(100.0) == [] and store.active_silences(5.0) == []
    store.remove_silence(sid, 60.0, "李四")
    assert store.active_silences(70.0) == [] and store.silence(sid).removed_by == "李四"


def test_store_outbox_is_idempotent_and_retries(store):
    """A notification id is enqueued once; a failure sets its next attempt."""
    store.enqueue("n1", "mail", {"text": "你好"}, 1.0)
    store.enqueue("n1", "mail", {"text": "again"}, 2.0)
    (row,) = store.pending_outbox("mail", 1.0)
    assert row.payload == {"text": "你好"}
    store.mark_failed("n1", "timeout", 30.0)
    assert store.pending_outbox("mail", 10.0) == [] and store.next_retry("mail") == 30.0
    store.mark_delivered("n1", 31.0)
    assert store.undelivered_count() == 0


def test_store_reports_are_kept_first_and_notes_replace_per_person(store):
    """The first rendering of a period stands; a person's later handover note replaces theirs."""
    assert store.keep_report("duty", "p", 1.0, "# a", "<h1>a</h1>")
    assert not store.keep_report("duty", "p", 2.0, "# b", "<h1>b</h1>")
    assert store.kept_report("duty", "p").markdown == "# a"
    store.set_handover_note("p", "张三", "旧", 1.0)
    store.set_handover_note("p", "张三", "新", 2.0)
    assert [(n.by, n.note) for n in store.handover_notes("p")] == [("张三", "新")]


def test_store_weekly_aggregates_count_items_found_in_the_week(store):
    """The weekly figures count by the time an item was found, with the one severity order."""
    store.add_item(Item("forum", "1", "a"), negative("重大", ("校园安全",)), "", 10.0)
    store.add_item(Item("forum", "2", "b"), negative("较大"), "", 20.0)
    store.add_item(Item("news", "3", "c"), NEUTRAL, "", 30.0)
    store.add_item(Item("news", "4", "d"), NEUTRAL, "", 100.0)  # after the week
    data = store.weekly_data(0.0, 100.0, top_stories=10, negative_limit=20, positive_limit=10)
    assert data.total == 3 and data.sentiment("negative") == 2
    assert [(t.name, t.count, t.negative) for t in data.sources] == [("forum", 2, 2),
                                                                     ("news", 1, 0)]
    assert [g.severity for g in data.negative] == ["重大", "较大"]
    assert [(t.name, t.count) for t in data.topics] == [("校园安全", 1)]


def test_store_shift_aggregates_list_configured_sources_and_incident_links(store):
    """A shift lists configured sources even when silent, and links items to the incident
    they joined in the shift."""
    store.add_item(Item("forum", "1", "a"), negative("较大"), "", 10.0)
    store.add_incident("i1", "r", "k", "t", "较大", [{"notify": "值班员"}], 10.0)
    store.attach_item("i1", "forum", "1", 10.0)
    store.add_dead_letter(15.0, "rss", "x", "boom", {})
    shift = store.shift_data(0.0, 50.0, "p", sources=["weibo"])
    assert [(s.name, s.count, s.dead_letters) for s in shift.sources] == [
        ("weibo", 0, 0), ("forum", 1, 0), ("rss", 0, 1)]
    assert [(i.title, i.incident) for i in shift.negative] == [("a", "i1")]
    assert [i.id for i in shift.incidents] == ["i1"]


def test_store_misses_are_one_record_for_every_kind_read_by_period_and_incident(store):
    """A miss of an incident deadline and of an expectation are the same record: read back
    typed, by the period they were recorded in (half-open) and by incident, in order."""
    store.add_incident("i1", "r", "k", "t", "较大", [{"notify": "值班员"}], 0.0)
    ack = api.MissRow(kind="ack", subject="i1", title="t", due_at=90.0, at=100.0, role="值班员",
                      who="张三", level=1, counts=False, reason="silenced", incident_id="i1")
    check_in = api.MissRow(kind="check_in", subject="2026-05-10/白班/李四", title="值班签到",
                           due_at=50.0, at=60.0, role="值班员", who="李四", level=0,
                           counts=True)
    first = store.add_miss(ack)
    second = store.add_miss(check_in)
    assert second > first
    assert store.misses(0.0, 100.0) == [dataclasses.replace(check_in, id=second)]
    assert store.misses(0.0, 101.0) == [dataclasses.replace(check_in, id=second),
                                        dataclasses.replace(ack, id=first)]
    assert store.incident_misses("i1") == [dataclasses.replace(ack, id=first)]
    assert store.shift_data(0.0, 101.0, "p").misses == tuple(store.misses(0.0, 101.0))
    assert store.weekly_data(50.0, 100.0, top_stories=1, negative_limit=1,
                             positive_limit=1).misses == (dataclasses.replace(check_in,
                                                                              id=second),)


def test_store_purge_blanks_old_items_but_keeps_what_incidents_cite(store):
    """Retention: items found before the cut-off lose text, URL, title and author hash, except
    the title and link of those an incident cites; older rule hits, firings and dead letters
    are deleted; each item is purged once; the run's time is kept."""
    with store.transaction():
        story = store.add_story(0, "六处学校老师体罚学生", 10.0)
        store.add_item(Item("forum", "old", "六处学校老师体罚学生", "正文", "https://x/old"),
                       negative(), "a1b2c3d4e5f60718", 10.0, story)
        store.add_item(Item("forum", "cited", "校车侧翻", "正文", "https://x/cited"),
                       negative("重大"), "a1b2c3d4e5f60719", 20.0)
        store.add_item(Item("forum", "new", "新帖", "正文", "https://x/new"), NEUTRAL, "", 200.0)
        store.add_incident("20260510-001", "r", "六处学校", "校车侧翻", "重大",
                           [{"notify": "值班员"}], 20.0)
        store.attach_item("20260510-001", "forum", "cited", 20.0)
        for at in (10.0, 200.0):
            store.add_hit("r", "k", Item("forum", f"h{at}", "t"), at)
            store.add_firing("r", "k", at)
        store.add_dead_letter(10.0, "forum", "bad", "ValueError: x", {"author": "张三"})
    assert store.last_purge() is None
    with store.transaction():
        purged = store.purge(100.0, 300.0)
    assert purged == api.Purged(items=2, stories=1, rule_hits=1, firings=1, dead_letters=1)
    assert purged.total == 6
    old = store.item("forum", "old")
    assert old is not None and (old.title, old.url) == ("", "")
    assert store.has_item("forum", "old")  # a source sending it again does not make it new
    cited = store.incident_items("20260510-001")
    assert [(i.title, i.url) for i in cited] == [("校车侧翻", "https://x/cited")]
    new = store.item("forum", "new")
    assert new is not None and (new.title, new.url) == ("新帖", "https://x/new")
    assert store.story(story).title == ""  # type: ignore[union-attr]
    assert store.count_hits("r", "k", 0.0) == 1
    assert store.last_firing("r", "k") == 200.0
    assert store.dead_letter_count() == 0
    assert store.last_purge() == 300.0
    with store.transaction():
        again = store.purge(150.0, 400.0)
    assert again == api.Purged(items=0, stories=0, rule_hits=0, firings=0, dead_letters=0)
    assert store.last_purge() == 400.0


def test_store_recent_story_items_are_each_storys_first_and_latest(store):
    """What the story index is rebuilt from: for stories seen since the cut-off, the first few
    items of each and every item of the recent span, oldest first; older stories not at all."""
    with store.transaction():
        old = store.add_story(0, "旧报道", 1.0)
        store.add_item(Item("forum", "o1", "旧报道", "正文"), NEUTRAL, "", 1.0, old)
        live = store.add_story(0, "新报道", 10.0)
        for n, at in enumerate((10.0, 20.0, 30.0, 40.0, 95.0)):
            store.add_item(Item("forum", f"l{n}", "新报道", f"正文{n}"), NEUTRAL, "", at, live)
            if n:
                store.touch_story(live, at)
    rows = store.recent_story_items(5.0, 2, 90.0)
    assert [(r.story_id, r.text, r.fetched_at) for r in rows] == [
        (live, "正文0", 10.0), (live, "正文1", 20.0), (live, "正文4", 95.0)]
    assert (rows[0].first_seen, rows[0].last_seen) == (10.0, 95.0)


def test_store_remembers_a_failing_channel_and_moves_notifications_between_channels(store):
    """The failing time is the first failure after a success; a moved notification keeps its
    place and says where it came from; a delivered one is not moved; an incident's
    notifications are listed with their channel and state."""
    store.channel_failed("robot", 10.0)
    store.channel_failed("robot", 20.0)
    assert store.channel_failing_since("robot") == 10.0
    store.channel_recovered("robot")
    assert store.channel_failing_since("robot") is None
    payload = {"id": "a", "incident": "INC-1", "to": []}
    store.enqueue("a", "robot", payload, 1.0)
    store.enqueue("b", "robot", {**payload, "id": "b"}, 2.0)
    store.mark_failed("a", "refused", 5.0)
    store.move_notification("a", "mail", {**payload, "channel": "mail"}, "robot", 30.0)
    store.add_fallback("b>mail", "mail", {**payload, "id": "b>mail"}, "robot", 2.0, 30.0)
    store.add_fallback("b>mail", "mail", {**payload, "id": "b>mail"}, "robot", 2.0, 31.0)
    assert [(r.id, r.attempts, r.fallback_from, r.created_at)
            for r in store.undelivered_outbox("mail")] == [
        ("a", 0, "robot", 1.0), ("b>mail", 0, "robot", 2.0)]
    store.mark_delivered("b", 32.0)
    store.move_notification("b", "mail", payload, "robot", 33.0)  # delivered: stays
    rows = store.incident_outbox("INC-1")
    assert [(r.id, r.channel, r.delivered_at) for r in rows] == [
        ("a", "mail", None), ("b", "robot", 32.0), ("b>mail", "mail", None)]
