"""Silences (静默): notifications muted for a while, never the record, never a 重大 incident's
leader level — on trio's virtual clock."""

from __future__ import annotations

import trio

from yuqingd.testing import Harness, running_daemon

MINUTE, HOUR = 60, 3600
T0 = 1_778_378_400.0  # 2026-05-10 10:00 +08:00

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
    - {name: 城关第二中学, aliases: [城关二中]}
  negative_words: [体罚, 殴打]
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
rules:
  - id: each-negative
    title: 涉校负面信息
    match: {entity: any, sentiment: negative}
    cooldown: 0s
    then:
      notify: {role: 值班员}
"""

MAJOR = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
  negative_words: [体罚]
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
rules:
  - id: burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 2, within: 1h}
    then:
      incident: {severity: SEVERITY, chain: major}
"""


async def settle() -> None:
    await trio.sleep(0.01)


async def sleep_until(daemon, epoch: float) -> None:
    await trio.sleep(epoch - daemon.clock.time())
    await settle()


def recorder(daemon) -> list[dict]:
    events: list[dict] = []
    daemon.events.subscribe(events.append)
    return events


async def silence(daemon, **args) -> dict:
    reply = await daemon.handle({"command": "silence.add", "by": "张明",
                                 "reason": "已知情况，正在处理", **args})
    assert reply["ok"], reply
    return reply


async def test_silence_suppresses_a_rule_notification_until_it_expires(make_config,
                                                                       autojump_clock):
    """A rule silenced for 1h sends nothing for 1h (recorded as silenced), then sends again."""
    harness = Harness()
    async with running_daemon(make_config(rules=RULES), harness) as daemon:
        events = recorder(daemon)
        reply = await silence(daemon, rule="each-negative", **{"for": "1h"})
        assert reply["until"] == "2026-05-10T11:00:00+08:00"
        listed = (await daemon.handle({"command": "silence.list"}))["silences"]
        assert [(s["scope"], s["target"], s["by"]) for s in listed] == [
            ("rule", "each-negative", "张明")]
        harness.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + 30 * MINUTE)
        assert harness.sent == []
        assert [(e["event"], e["rule"], e["silence"]) for e in events
                if e["event"] == "notification.silenced"] == [
            ("notification.silenced", "each-negative", reply["silence"])]
        await sleep_until(daemon, T0 + 61 * MINUTE)
        assert (await daemon.handle({"command": "silence.list"}))["silences"] == []
        harness.post("b", "六处学校又有老师殴打学生")
        await settle()
    assert [n.kind for n in harness.sent] == ["rule.notify"]
    assert "殴打" in harness.sent[0].text


async def test_silence_removed_early_and_other_rules_keys_unaffected(make_config,
                                                                     autojump_clock):
    """A key silence mutes that key only; ``silence remove`` ends it at once."""
    harness = Harness()
    async with running_daemon(make_config(rules=RULES), harness) as daemon:
        reply = await silence(daemon, key="六处学校", **{"for": "2h"})
        harness.post("a", "六处学校老师体罚学生")
        harness.post("b", "城关二中老师体罚学生")
        await settle()
        assert [n.text.split("\n")[1] for n in harness.sent] == ["对象：城关第二中学"]
        removed = await daemon.handle({"command": "silence.remove",
                                       "silence": str(reply["silence"]), "by": "张明"})
        assert removed["ok"]
        harness.post("c", "六处学校老师殴打学生")
        await settle()
    assert [n.text.split("\n")[1] for n in harness.sent] == ["对象：城关第二中学",
                                                             "对象：六处学校"]


async def test_silence_on_a_major_incidents_rule_still_reaches_the_leader_level(
        make_config, autojump_clock):
    """重大: the silenced duty officer is not told, but the incident opens, its deadline runs,
    and the leader level (level 2) is notified when nobody acknowledges."""
    harness = Harness()
    async with running_daemon(make_config(rules=MAJOR.replace("SEVERITY", "重大")),
                              harness) as daemon:
        await silence(daemon, rule="burst", **{"for": "2h"})
        harness.post("a", "六处学校老师体罚学生")
        harness.post("b", "六处学校老师体罚学生，家长愤怒")
        await settle()
        assert [i.status for i in daemon.store.incidents()] == ["open"]
        assert harness.sent == []
        await sleep_until(daemon, T0 + 16 * MINUTE)
    assert harness.kinds() == [("incident.escalated", 2)]
    assert [r.person for r in harness.sent[0].to] == ["李华"]


async def test_silence_on_a_lesser_incidents_rule_mutes_every_level(make_config,
                                                                    autojump_clock):
    """较大: a rule silence mutes the whole ladder, while the incident still escalates."""
    harness = Harness()
    async with running_daemon(make_config(rules=MAJOR.replace("SEVERITY", "较大")),
                              harness) as daemon:
        await silence(daemon, rule="burst", **{"for": "2h"})
        harness.post("a", "六处学校老师体罚学生")
        harness.post("b", "六处学校老师体罚学生，家长愤怒")
        await sleep_until(daemon, T0 + 16 * MINUTE)
        assert [i.level for i in daemon.store.incidents()] == [2]
    assert harness.sent == []


async def test_silence_on_a_source_mutes_its_items_but_keeps_them(make_config,
                                                                  autojump_clock):
    """Items from a silenced source are stored and matched but trigger no notification."""
    harness = Harness()
    async with running_daemon(make_config(rules=RULES), harness) as daemon:
        refused = await daemon.handle({"command": "silence.add", "source": "nowhere",
                                       "for": "1h", "reason": "x", "by": "张明"})
        assert not refused["ok"] and "nowhere" in refused["error"]
        typo = await daemon.handle({"command": "silence.add", "rule": "each-negtive",
                                    "for": "1h", "reason": "x", "by": "张明"})
        assert typo["error"] == "没有编号为 each-negtive 的规则（是否想写 'each-negative'？）"
        await silence(daemon, source="forum", **{"for": "1h"})
        harness.post("a", "六处学校老师体罚学生")
        await settle()
        assert daemon.store.item_count() == 1
        assert harness.sent == []
        await sleep_until(daemon, T0 + 2 * HOUR)
        harness.post("b", "六处学校老师殴打学生")
        await settle()
    assert [n.kind for n in harness.sent] == ["rule.notify"]


async def test_a_level_that_a_silence_kept_uninformed_is_not_held_to_account(make_config,
                                                                              autojump_clock):
    """重大 with the officer's level silenced: the missed ack is recorded, marked as silenced
    (not 问责 for 张明); the leader level, told, misses its own deadline in full."""
    harness = Harness()
    async with running_daemon(make_config(rules=MAJOR.replace("SEVERITY", "重大")),
                              harness) as daemon:
        events = recorder(daemon)
        await silence(daemon, rule="burst", **{"for": "2h"})
        harness.post("a", "六处学校老师体罚学生")
        harness.post("b", "六处学校老师体罚学生，家长愤怒")
        await sleep_until(daemon, T0 + 50 * MINUTE)
        missed = [(e["level"], e["who"], e.get("silenced", False)) for e in events
                  if e["event"] == "expectation.missed"]
        assert missed == [(1, "张明", True), (2, "李华", False)]
        (incident,) = daemon.store.incidents()
        recorded = [(r["who"], r["excused"])
                    for r in daemon.store.incident_deadlines(incident.id) if r["who"]]
        assert recorded == [("张明", "silenced"), ("李华", None)]
