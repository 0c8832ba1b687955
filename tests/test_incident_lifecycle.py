"""Report-within-time (重大事件报告制度): the incident lifecycle, report deadlines, missed
deadlines with who held them, key-date vigilance, restarts — on trio's virtual clock."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import trio

from yuqingd.located import ConfigError
from yuqingd.rules.loader import load_rules
from yuqingd.testing import Harness, running_daemon

MINUTE = 60
HOUR = 3600

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
  negative_words: [体罚, 殴打, 隐瞒]
calendar:
  - {name: 高考, dates: ["2026-06-07/2026-06-08"], vigilance: high}
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
deadlines:
  较大: {first_report: 1h, follow_up_every: 4h, final_report: 1d}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    vigilance:
      high: {ack_within_factor: 0.5}
    then:
      incident: {severity: 较大, chain: major%(rule_extra)s}
"""


def rules(rule_extra: str = "") -> str:
    return RULES % {"rule_extra": rule_extra}


def burst(harness: Harness, tag: str = "") -> None:
    for n in range(3):
        harness.post(f"neg{tag}-{n}", f"六处学校老师体罚学生 {tag}{n}", "家长反映孩子被体罚")


async def settle() -> None:
    await trio.sleep(0.01)


def record(daemon) -> list[dict]:
    events: list[dict] = []
    daemon.events.subscribe(events.append)
    return events


def missed(events: list[dict]) -> list[tuple]:
    return [(e["what"], e["level"], e["role"], e["who"]) for e in events
            if e["event"] == "expectation.missed"]


async def command(daemon, name: str, **args) -> dict:
    reply = await daemon.handle({"command": name, **args})
    assert reply["ok"], reply
    return reply


async def test_incident_lifecycle_records_who_when_and_note_of_every_step(make_config,
                                                                          autojump_clock):
    """Ack, first report, follow-up, final report: each is recorded with who, when and the
    note; every deadline is met on time, nobody is escalated, the final report closes it."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules()), harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        assert incident.stage == "opened"
        steps = [(5, "ack", {}), (30, "report", {"stage": "first"}),
                 (3 * 60, "report", {"stage": "follow_up"}), (5 * 60, "report", {"stage": "final"})]
        opened = trio.current_time()
        for minute, name, extra in steps:
            await trio.sleep(opened + minute * MINUTE - trio.current_time())
            await command(daemon, name, incident=incident.id, by="张明", note=f"{name}@{minute}",
                          **extra)
        reply = await command(daemon, "incident", incident=incident.id)
    assert reply["incident"]["stage"] == "closed"
    assert [(t["action"], t["by"], t["note"]) for t in reply["transitions"]] == [
        ("opened", "yuqingd", "rule=negative-burst key=六处学校"),
        ("acknowledged", "张明", "ack@5"),
        ("report.first", "张明", "report@30"),
        ("report.follow_up", "张明", "report@180"),
        ("report.final", "张明", "report@300"),
        ("closed", "张明", "report@300"),
    ]
    assert all(t["at"].endswith("+08:00") for t in reply["transitions"])
    assert sorted((d["kind"], d["state"]) for d in reply["deadlines"]) == [
        ("ack", "met"), ("final_report", "met"), ("first_report", "met"), ("follow_up", "met"),
        ("follow_up", "met")]
    assert missed(events) == []
    assert [k for k, _ in harness.kinds()] == ["incident.opened", "incident.acknowledged"]


async def test_incident_missed_first_report_escalates_and_names_who_held_the_role(
        make_config, autojump_clock):
    """Acknowledged but no first report within 1h: recorded as missed by 值班员 张明, 办公室主任
    is told (with the item count and newest items); still none after 30 min: 组长, then
    hourly. The first report stops it; the follow-up is then due 4h later."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules()), harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        await trio.sleep(5 * MINUTE)
        await command(daemon, "ack", incident=incident.id, by="张明")
        harness.post("neg-late", "六处学校隐瞒体罚", "又一位家长投诉")
        await trio.sleep(55 * MINUTE - 0.02)
        assert missed(events) == []
        await trio.sleep(0.02)
        assert missed(events) == [("first_report", 1, "值班员", "张明")]
        overdue = harness.sent[-1]
        assert (overdue.kind, overdue.level, overdue.to[0].person) == ("incident.overdue", 2,
                                                                       "李华")
        assert "首报时限" in overdue.text and "第1级（值班员 张明）未按时首报" in overdue.text
        assert "相关信息：4 条" in overdue.text and "六处学校隐瞒体罚" in overdue.text
        assert f"yuqingd report {incident.id} --stage first" in overdue.text
        await trio.sleep(30 * MINUTE)
        assert missed(events)[-1] == ("first_report", 2, "办公室主任", "李华")
        assert harness.kinds()[-1] == ("incident.overdue", 3)
        await trio.sleep(HOUR)
        assert harness.kinds()[-1] == ("incident.overdue", 3)
        assert missed(events)[-1] == ("first_report", 3, "组长", "王强")
        sent = len(harness.sent)
        await command(daemon, "report", incident=incident.id, stage="first", by="李华",
                      note="已电话报告教育局")
        await trio.sleep(4 * HOUR - MINUTE)
        assert len(harness.sent) == sent
        assert missed(events)[-1][0] == "first_report"
        await trio.sleep(2 * MINUTE)
        assert missed(events)[-1] == ("follow_up", 3, "组长", "王强")
        assert daemon.store.incident(incident.id).stage == "first_report"


async def test_incident_follow_ups_are_due_every_interval_after_the_last_report(
        make_config, autojump_clock):
    """Each follow-up is due ``follow_up_every`` after the previous report."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules()), harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        await command(daemon, "report", incident=incident.id, stage="first", by="张明")
        await trio.sleep(3 * HOUR)
        await command(daemon, "report", incident=incident.id, stage="follow_up", by="张明")
        await trio.sleep(4 * HOUR - MINUTE)
        assert missed(events) == []
        await trio.sleep(2 * MINUTE)
        assert missed(events) == [("follow_up", 1, "值班员", "张明")]


async def test_incident_reports_must_come_in_order(make_config, autojump_clock):
    """A follow-up before the first report, or a second first report, is refused."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules()), harness) as daemon:
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        early = await daemon.handle({"command": "report", "incident": incident.id,
                                     "stage": "follow_up", "by": "张明"})
        assert not early["ok"] and "尚未首报" in early["error"]
        await command(daemon, "report", incident=incident.id, stage="first", by="张明")
        twice = await daemon.handle({"command": "report", "incident": incident.id,
                                     "stage": "first", "by": "张明"})
        assert not twice["ok"] and "已首报" in twice["error"]
        await command(daemon, "close", incident=incident.id, by="李华", note="误报")
        closed = await daemon.handle({"command": "close", "incident": incident.id, "by": "李华"})
        assert not closed["ok"] and "已关闭" in closed["error"]
        assert daemon.store.incident(incident.id).stage == "closed"


async def test_incident_rule_deadlines_override_and_severity_ack_caps_chain(make_config,
                                                                             autojump_clock):
    """The rule's ``deadlines`` win field by field over the severity's; the severity's
    ``ack_within`` caps each chain level's (15m and 30m → 5m, and 5m for the last level)."""
    harness = Harness()
    text = rules(", deadlines: {first_report: 20m}").replace(
        "较大: {first_report: 1h", "较大: {ack_within: 5m, first_report: 1h")
    async with running_daemon(make_config(rules=text), harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        await trio.sleep(5 * MINUTE + 1)
        assert missed(events) == [("ack", 1, "值班员", "张明")]
        assert harness.kinds()[-1] == ("incident.escalated", 2)
        await trio.sleep(5 * MINUTE)
        assert harness.kinds()[-1] == ("incident.escalated", 3)
        await trio.sleep(10 * MINUTE)
        assert missed(events) == [("ack", 1, "值班员", "张明"), ("ack", 2, "办公室主任", "李华"),
                                  ("ack", 3, "组长", "王强"), ("first_report", 3, "组长", "王强")]
        (incident,) = daemon.store.incidents()
        assert incident.deadlines == {"ack_within": 300, "first_report": 1200,
                                      "follow_up_every": 4 * HOUR, "final_report": 24 * HOUR}


async def test_incident_key_date_vigilance_shortens_every_deadline(make_config, autojump_clock):
    """Opened during 高考 (vigilance high, ack_within_factor 0.5): ack in 7.5 min, first report
    in 30 min; the same rule on an ordinary day keeps 15 min and 1 h."""
    harness = Harness()
    gaokao = 1_780_797_600.0  # 2026-06-07 10:00 +08:00
    async with running_daemon(make_config(rules=rules()), harness,
                              start_epoch=gaokao) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        await trio.sleep(7.5 * MINUTE + 0.1)
        assert missed(events) == [("ack", 1, "值班员", "张明")]
        await trio.sleep(22.5 * MINUTE)
        assert missed(events)[-1][0] == "first_report"
        (incident,) = daemon.store.incidents()
        assert incident.deadlines["factor"] == 0.5
        assert incident.chain[0]["ack_within"] == 7.5 * MINUTE


async def test_incident_reload_does_not_move_deadlines_of_open_incidents(make_config,
                                                                         autojump_clock):
    """Deadlines are fixed when the incident opens: a reload changes only later incidents."""
    harness = Harness()
    config = make_config(rules=rules())
    async with running_daemon(config, harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        (config.parent / "rules.yaml").write_text(
            textwrap.dedent(rules()).replace("first_report: 1h", "first_report: 3h"),
            encoding="utf-8")
        assert await daemon.reload()
        await command(daemon, "ack", incident=daemon.store.incidents()[0].id, by="张明")
        await trio.sleep(HOUR + 1)
        assert missed(events) == [("first_report", 1, "值班员", "张明")]


async def test_incident_deadline_due_while_down_fires_once_at_start(make_config, tmp_path,
                                                                    autojump_clock):
    """The first report fell due while the daemon was stopped: at the next start it is missed
    and escalated at once; a further restart sends nothing again."""
    config = make_config(rules=rules())
    start = 1_778_378_400.0
    first = Harness()
    async with running_daemon(config, first, start_epoch=start) as daemon:
        burst(first)
        await settle()
        (incident,) = daemon.store.incidents()
        await command(daemon, "ack", incident=incident.id, by="张明")
        await trio.sleep(MINUTE)
    second = Harness()
    async with running_daemon(config, second, start_epoch=start + 2 * HOUR) as daemon:
        events = record(daemon)
        await trio.sleep(1)
        assert second.kinds() == [("incident.overdue", 2)]
        assert "第1级（值班员 张明）未按时首报" in second.sent[0].text
        # The overdue first report re-armed for level 2's 30 minutes from the restart.
        pending = [d for d in daemon.store.incident_deadlines(incident.id)
                   if d["state"] == "pending"]
        assert [(d["kind"], d["level"], d["due_at"]) for d in pending] == [
            ("first_report", 2, start + 2 * HOUR + 30 * MINUTE),
            ("final_report", 1, start + 24 * HOUR)]
        assert events == []  # fired before we subscribed: at start, before anything else
    third = Harness()
    async with running_daemon(config, third, start_epoch=start + 2 * HOUR + MINUTE):
        await trio.sleep(1)
    assert third.sent == []
    assert len({n.id for n in first.sent + second.sent}) == len(first.sent + second.sent)


def test_incident_deadlines_section_errors_are_located_and_in_chinese(tmp_path: Path):
    """Bad ``deadlines:`` entries are each reported with file, line and a Chinese message."""
    base = tmp_path / "a.yaml"
    base.write_text("chains:\n  c: [{notify: 值班员}]\ndeadlines:\n  重大: {first_report: 1h}\n",
                    encoding="utf-8")
    again = tmp_path / "again.yaml"
    again.write_text("deadlines:\n  重大: {first_report: 2h}\n", encoding="utf-8")
    bad = tmp_path / "b.yaml"
    bad.write_text(textwrap.dedent("""\
        deadlines:
          严重: {first_report: 1h}
          较大: {ack_within: 30m, first_reprot: 2h}
          一般: {first_report: 2h, final_report: 1h}
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules([base, again, bad], {"值班员"})
    assert sorted(str(e) for e in caught.value.errors) == [
        f"{again}:2:3: 严重程度 '重大' 的时限重复定义",
        f"{bad}:2:7: 取值 '严重' 无效，可选: '一般', '较大', '重大' or '特别重大'",
        f"{bad}:3:25: 未知字段 'first_reprot'（是否想写 'first_report'？）",
        f"{bad}:4:7: final_report（终报时限）不能早于 first_report（首报时限）",
    ]
