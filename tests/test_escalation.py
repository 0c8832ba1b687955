"""The threshold rule and the escalation ladder, on trio's virtual clock."""

from __future__ import annotations

import json

import trio

from yuqingd.testing import Harness, running_daemon

MINUTE = 60


def negative(harness: Harness, n: int, entity: str = "六处学校") -> None:
    harness.post(f"neg-{entity}-{n}", f"{entity}老师体罚学生 #{n}", "家长反映孩子被体罚")


async def settle() -> None:
    """Let the daemon's tasks handle what was just posted (virtual time barely moves)."""
    await trio.sleep(0.01)


async def test_threshold_opens_incident_on_third_item_within_window(make_config, autojump_clock):
    """Two negative posts about a school open nothing; the third within an hour opens one."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        negative(harness, 1)
        await trio.sleep(20 * MINUTE)
        negative(harness, 2)
        await trio.sleep(20 * MINUTE)
        await settle()
        assert daemon.store.incidents() == []
        negative(harness, 3)
        await settle()
        incidents = daemon.store.incidents()
        assert [(i.rule_id, i.group_key, i.severity, i.item_count) for i in incidents] == [
            ("negative-burst", "六处学校", "较大", 3)
        ]
        assert harness.kinds() == [("incident.opened", 1)]
        opened = harness.sent[0]
        assert opened.to[0].person == "张明"
        assert "yuqingd ack" in opened.text and opened.at.endswith("+08:00")
        assert opened.items[0]["url"].startswith("https://")


async def test_threshold_window_slides(make_config, autojump_clock):
    """Items further apart than the window never add up; the window slides with each item."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for n in range(4):
            negative(harness, n)
            await trio.sleep(31 * MINUTE)  # any three span more than an hour
        await settle()
        assert daemon.store.incidents() == []
        negative(harness, 10)
        await trio.sleep(30 * MINUTE)  # 3 (at 93m), 10 (at 124m), 11 (at 154m): 61 minutes
        negative(harness, 11)
        await settle()
        assert daemon.store.incidents() == []
        await trio.sleep(29 * MINUTE)
        negative(harness, 12)  # 10, 11, 12 within 59 minutes
        await settle()
        assert len(daemon.store.incidents()) == 1


async def test_threshold_counts_item_exactly_window_old(make_config, autojump_clock):
    """An item that arrived exactly ``within`` ago still counts (the window is inclusive)."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        negative(harness, 1)
        await settle()
        await trio.sleep(30 * MINUTE - 0.01)
        negative(harness, 2)
        await trio.sleep(30 * MINUTE)
        negative(harness, 3)
        await settle()
        assert len(daemon.store.incidents()) == 1


async def test_threshold_is_per_entity_and_ignores_neutral(make_config, autojump_clock):
    """Counts are kept per watched name; neutral and positive posts do not count."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        negative(harness, 1, "六处学校")
        negative(harness, 2, "城关二中")
        harness.post("neutral-1", "六处学校举行开学典礼")
        harness.post("positive-1", "六处学校获表彰，家长点赞")
        negative(harness, 3, "六处学校")
        await settle()
        assert daemon.store.incidents() == []
        negative(harness, 4, "城关二中")
        negative(harness, 5, "城关二中")
        await settle()
        assert [i.group_key for i in daemon.store.incidents()] == ["城关第二中学"]


async def test_open_incident_collects_items_without_new_alerts(make_config, autojump_clock):
    """Further matching posts attach to the open incident instead of alerting again."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for n in range(7):
            negative(harness, n)
        await settle()
        (incident,) = daemon.store.incidents()
        assert incident.item_count == 7
        assert harness.kinds() == [("incident.opened", 1)]


async def test_duplicate_item_is_processed_once(make_config, autojump_clock):
    """The same (source, id) posted three times counts once."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for _ in range(3):
            negative(harness, 1)
        await settle()
        assert daemon.store.item_count() == 1
        assert daemon.store.incidents() == []


async def test_unacknowledged_incident_escalates_level_by_level(make_config, autojump_clock):
    """Unacknowledged: level 2 is told at 15 min, level 3 at 45 min, then reminded hourly."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for n in range(3):
            negative(harness, n)
        await settle()
        opened_at = trio.current_time()
        await trio.sleep(15 * MINUTE - 1)
        assert harness.kinds() == [("incident.opened", 1)]
        await trio.sleep(1.001)
        assert harness.kinds()[-1] == ("incident.escalated", 2)
        assert harness.sent[-1].to[0].person == "李华"
        assert "第1级（值班员 张明）未按时确认" in harness.sent[-1].text
        await trio.sleep(30 * MINUTE)
        assert harness.kinds()[-1] == ("incident.escalated", 3)
        await trio.sleep(2 * 60 * MINUTE)
        assert harness.kinds() == [
            ("incident.opened", 1),
            ("incident.escalated", 2),
            ("incident.escalated", 3),
            ("incident.repeated", 3),
            ("incident.repeated", 3),
        ]
        assert trio.current_time() - opened_at < 3 * 60 * MINUTE
        assert daemon.store.incidents()[0].level == 3


async def test_acknowledge_stops_escalation(make_config, autojump_clock):
    """Once acknowledged, nobody further up the chain is notified."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for n in range(3):
            negative(harness, n)
        await settle()
        (incident,) = daemon.store.incidents()
        await trio.sleep(10 * MINUTE)
        reply = await daemon.handle({"command": "ack", "incident": incident.id, "by": "张明",
                               "note": "已联系学校核实"})
        assert reply["ok"], reply
        await trio.sleep(5 * 60 * MINUTE)
        assert harness.kinds() == [("incident.opened", 1), ("incident.acknowledged", 1)]
        acked = daemon.store.incident(incident.id)
        assert (acked.status, acked.acked_by) == ("acknowledged", "张明")
        again = await daemon.handle({"command": "ack", "incident": incident.id, "by": "李华"})
        assert not again["ok"] and "张明" in again["error"]


async def test_ack_of_unknown_incident_is_refused(make_config, autojump_clock):
    """Acknowledging an id that does not exist says so and changes nothing."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        reply = await daemon.handle({"command": "ack", "incident": "20260510-999", "by": "张明"})
        assert reply == {"ok": False, "error": "没有编号为 20260510-999 的事件"}


async def test_acknowledged_incident_closes_after_a_quiet_window(make_config, autojump_clock):
    """After an ack, matches keep attaching while they come; after a quiet hour the incident
    closes and a later burst opens a new one (the rule is not muted for that school)."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        for n in range(3):
            negative(harness, n)
        await settle()
        (first,) = daemon.store.incidents()
        await daemon.handle({"command": "ack", "incident": first.id, "by": "张明"})
        await trio.sleep(30 * MINUTE)
        negative(harness, 3)  # still active: attaches
        await settle()
        assert daemon.store.incident(first.id).item_count == 4
        await trio.sleep(24 * 60 * MINUTE)  # a day later, a new burst
        for n in range(10, 13):
            negative(harness, n)
        await settle()
        incidents = daemon.store.incidents()
        assert [i.status for i in incidents] == ["closed", "open"]
        assert incidents[1].item_count == 3
        assert harness.kinds()[-1] == ("incident.opened", 1)


async def test_old_posts_caught_up_at_once_open_nothing(make_config, autojump_clock):
    """Posts published long ago and fetched together (a first poll, a catch-up) do not count as
    a burst now; recent posts fetched late still do."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        now = daemon.clock.time()
        for n in range(5):
            harness.post(f"old-{n}", f"六处学校体罚学生 {n}", published_at=now - 86400 * 30 - n)
        await settle()
        assert daemon.store.item_count() == 5 and daemon.store.incidents() == []
        for n in range(3):
            harness.post(f"late-{n}", f"六处学校体罚学生 {n}", published_at=now - 600)
        await settle()
        assert len(daemon.store.incidents()) == 1


async def test_unprocessable_item_is_set_aside_and_the_daemon_goes_on(make_config,
                                                                      autojump_clock):
    """An item that makes processing fail is kept as a dead letter; later items still count."""
    harness = Harness()
    async with running_daemon(make_config(), harness) as daemon:
        real_analyze = daemon.pipeline.analyzer.analyze

        def analyze(item):
            if "boom" in item.title:
                raise ValueError("analyzer bug")
            return real_analyze(item)

        daemon.pipeline.analyzer.analyze = analyze
        harness.post("bad", "boom 六处学校体罚")
        harness.post("broken-text", json.loads('"六处学校体罚学生\\ud83d"'))  # half an emoji
        for n in range(2):
            negative(harness, n)
        await settle()
        assert daemon.store.dead_letter_count() == 1
        assert daemon.store.item_count() == 3
        assert len(daemon.store.incidents()) == 1
        title = daemon.store.db.execute(
            "SELECT title FROM items WHERE item_id='broken-text'").fetchone()[0]
        assert title == "六处学校体罚学生\ufffd"


TIED_RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
  negative_words: [体罚]
chains:
  major:
    - {notify: 值班员, ack_within: 30m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, ack_within: 30m}
deadlines:
  较大: {first_report: 30m}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    then:
      incident: {severity: 较大, chain: major}
"""


async def test_deadlines_due_together_escalate_once(make_config, autojump_clock):
    """The ack deadline and the first-report deadline fall due at the same instant: the late
    report escalates (and re-arms the ladder); the ack deadline it cancelled must not escalate
    again. Each level is told once, and one ladder deadline stays pending."""
    harness = Harness()
    async with running_daemon(make_config(rules=TIED_RULES), harness) as daemon:
        for n in range(3):
            negative(harness, n)
        await settle()
        await trio.sleep(62 * 60)
        assert harness.kinds() == [("incident.opened", 1), ("incident.overdue", 2),
                                   ("incident.escalated", 3), ("incident.overdue", 3)]
        (incident,) = daemon.store.incidents()
        pending = [(r["kind"], r["level"]) for r in daemon.store.incident_deadlines(incident.id)
                   if r["state"] == "pending"]
        assert [kind for kind, _ in pending].count("ack") == 1
