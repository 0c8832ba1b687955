"""Report-within-time (重大事件报告制度): the incident lifecycle, report deadlines, missed
deadlines with who held them, key-date vigilance, restarts — on trio's virtual clock."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from yuqingd.located import ConfigError
from yuqingd.rules.loader import load_rules
from yuqingd.testing import Harness, running_daemon

from .service.configs import write_setup
from .service.process import DaemonProcess, query, wait_until

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
    assert [(t["action"], t["by"], t["fields"].get("note")) for t in reply["transitions"]] == [
        ("opened", "yuqingd", None),
        ("acknowledged", "张明", "ack@5"),
        ("report.first", "张明", "report@30"),
        ("report.follow_up", "张明", "report@180"),
        ("report.final", "张明", "report@300"),
        ("closed", "张明", "report@300"),
    ]
    assert reply["transitions"][0]["fields"] == {"rule": "negative-burst", "key": "六处学校",
                                                 "severity": "较大", "items": 3}
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


async def test_incident_every_missed_ack_is_recorded_once_with_its_holder(make_config,
                                                                          autojump_clock):
    """Nobody acknowledges: each level's miss is recorded once, naming who held the role."""
    harness = Harness()
    text = rules().replace("{notify: 组长, repeat_every: 1h}", "{notify: 组长, ack_within: 1h}")
    text = text.replace("  较大: {first_report", "  一般: {first_report")  # no report owed
    async with running_daemon(make_config(rules=text), harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        await trio.sleep(10 * HOUR)
        assert missed(events) == [("ack", 1, "值班员", "张明"), ("ack", 2, "办公室主任", "李华"),
                                  ("ack", 3, "组长", "王强")]
        (incident,) = daemon.store.incidents()
        reply = await command(daemon, "incident", incident=incident.id)
    assert [(d["kind"], d["level"], d["state"], d["role"], d["who"])
            for d in reply["deadlines"]] == [("ack", 1, "fired", "值班员", "张明"),
                                              ("ack", 2, "fired", "办公室主任", "李华"),
                                              ("ack", 3, "fired", "组长", "王强")]


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


async def test_incident_quiet_after_downgrades_but_never_drops_an_owed_report(make_config,
                                                                        autojump_clock):
    """``quiet_after: 2h, when_quiet: downgrade``: a quiet 2h lowers the severity one step
    (checked when the next item arrives); quiet again at 一般 it would close, but not while
    it still owes a report."""
    harness = Harness()
    text = rules(", quiet_after: 2h, when_quiet: downgrade")
    async with running_daemon(make_config(rules=text.replace(
            "first_report: 1h, follow_up_every: 4h, final_report: 1d", "first_report: 9d")),
            harness) as daemon:
        events = record(daemon)
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        await command(daemon, "ack", incident=incident.id, by="张明")
        await trio.sleep(2 * HOUR - MINUTE)
        harness.post("a", "六处学校隐瞒体罚")  # within 2h: attaches, nothing changes
        await settle()
        await trio.sleep(2 * HOUR + MINUTE)
        harness.post("b", "六处学校又有体罚")
        await settle()
        assert daemon.store.incident(incident.id).severity == "一般"
        assert [(e["previous"], e["severity"]) for e in events
                if e["event"] == "incident.downgraded"] == [("较大", "一般")]
        await trio.sleep(2 * HOUR + MINUTE)
        harness.post("c", "六处学校殴打学生")
        await settle()
        # Quiet again at 一般, but a first report is still owed: it stays open.
        assert daemon.store.incident(incident.id).status == "acknowledged"
        assert daemon.store.incident(incident.id).item_count == 6


async def test_incident_quiet_after_closes_when_no_report_is_owed(make_config, autojump_clock):
    """``quiet_after: 30m``: an acknowledged incident owing no report closes on the first item
    after 30 quiet minutes, and that burst opens a new incident."""
    harness = Harness()
    text = rules(", quiet_after: 30m").replace(
        "  较大: {first_report: 1h, follow_up_every: 4h, final_report: 1d}\n", "  {}\n")
    async with running_daemon(make_config(rules=text.replace("deadlines:\n  {}\n", "")),
                              harness) as daemon:
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        await command(daemon, "ack", incident=incident.id, by="张明")
        await trio.sleep(31 * MINUTE)
        burst(harness, "b")
        await settle()
        assert [i.stage for i in daemon.store.incidents()] == ["closed", "opened"]


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
        f"{again}:2:3: 严重程度 '重大' 的时限重复定义（首次定义于 {base}:4）",
        f"{bad}:2:7: 取值 '严重' 无效，可选: '一般', '较大', '重大' or '特别重大'",
        f"{bad}:3:25: 未知字段 'first_reprot'（是否想写 'first_report'？）",
        f"{bad}:4:7: final_report（终报时限）不能早于 first_report（首报时限）",
    ]


# the CLI and SIGKILL, against a real daemon process -----------------------------------------


def cli(*args: str):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=60)


def service_setup(tmp_path: Path, short_dir: Path) -> Path:
    config = write_setup(tmp_path, short_dir / "control.sock", ack_within="1h")
    with (tmp_path / "rules.yaml").open("a", encoding="utf-8") as rules_file:
        rules_file.write("deadlines:\n  较大: {first_report: 1h, final_report: 1d}\n")
    return config


def test_incident_cli_report_close_and_show_the_record(tmp_path, short_dir):
    """`yuqingd incidents`, `report`, `incident` and `close` over the control socket."""
    config = service_setup(tmp_path, short_dir)
    alerts = tmp_path / "alerts.jsonl"
    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wait_until(lambda: alerts.exists() and alerts.read_text().count("\n") == 2,
                   what="two incidents")
        listing = cli("incidents", "--config", str(config))
        assert listing.returncode == 0, listing.stderr
        header, *rows = [line.split("\t") for line in listing.stdout.splitlines()]
        assert header[:3] == ["编号", "阶段", "严重程度"] and len(rows) == 2
        assert all(r[1] == "待确认" and r[-1].startswith("首报 ") and r[-1].endswith("+08:00")
                   for r in rows)
        first, second = rows[0][0], rows[1][0]

        # Officers type the stage as they say it; a wrong one is told the three, and nothing
        # is recorded.
        typo = cli("report", first, "--stage", "初报", "--by", "张明", "--config", str(config))
        assert typo.returncode == 64
        assert "首报、续报 或 终报" in typo.stderr and "初报" in typo.stderr
        no_stage = cli("report", first, "--by", "张明", "--config", str(config))
        assert no_stage.returncode == 64 and "--stage（首报、续报 或 终报" in no_stage.stderr
        report = cli("report", first, "--stage", "首报", "--by", "张明", "--note", "已电话报告",
                     "--config", str(config))
        assert report.returncode == 0, report.stderr
        assert report.stdout.strip() == f"事件 {first} 已记录首报（张明）"
        again = cli("report", first, "--stage", "first", "--by", "张明", "--config", str(config))
        assert again.returncode == 1 and "已首报" in again.stderr

        shown = cli("incident", first, "--config", str(config))
        assert shown.returncode == 0, shown.stderr
        text = shown.stdout
        assert "阶段 已首报" in text and "升级链 第1级 值班员 1h内确认" in text
        assert "报告时限 首报 1h；终报 1d" in text
        assert "+08:00  首报  张明  已电话报告" in text
        assert "首报  第1级" in text and "按时完成" in text and "终报  第1级" in text
        assert "最新信息：" in text and "https://forum.example/t/" in text

        close = cli("close", second, "--by", "李华", "--note", "误报", "--config", str(config))
        assert close.returncode == 0 and close.stdout.strip() == f"事件 {second} 已关闭"
        open_now = cli("incidents", "--config", str(config)).stdout.splitlines()[1:]
        assert [line.split("\t")[:2] for line in open_now] == [[first, "已首报"]]
        everything = cli("incidents", "--all", "--config", str(config)).stdout.splitlines()[1:]
        assert [line.split("\t")[1] for line in everything] == ["已首报", "已关闭"]
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()


def test_incident_report_deadline_due_while_killed_fires_once_after_restart(tmp_path,
                                                                            short_dir):
    """kill -9; the first-report deadlines pass while the daemon is down; at start both are
    missed and escalated in order, once, and a second kill and start repeats nothing."""
    config = service_setup(tmp_path, short_dir)
    db = tmp_path / "state" / "yuqingd.sqlite3"
    alerts = tmp_path / "alerts.jsonl"

    def lines() -> list[dict]:
        text = alerts.read_text(encoding="utf-8") if alerts.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line]

    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wait_until(lambda: len(lines()) == 2, what="two incidents")
        for incident in {line["incident"] for line in lines()}:
            assert cli("ack", incident, "--by", "张明", "--config", str(config)).returncode == 0
        wait_until(lambda: len(lines()) == 4, what="two ack notices")
        daemon.kill9()
    finally:
        daemon.close()
    with sqlite3.connect(db) as conn:  # two hours pass while the daemon is down
        conn.execute("UPDATE deadlines SET due_at = due_at - 7200 WHERE kind='first_report'")
    for _ in range(2):
        daemon = DaemonProcess(config, short_dir)
        try:
            daemon.start()
            daemon.wait_message("READY=1")
            wait_until(lambda: len(lines()) == 6, what="two overdue notices", timeout=10)
            daemon.kill9()
        finally:
            daemon.close()
    overdue = lines()[4:]
    assert [(o["kind"], o["level"]) for o in overdue] == [("incident.overdue", 2)] * 2
    assert all("未按时首报" in o["text"] for o in overdue)
    missed = query(db, "SELECT kind, level, role, who FROM deadlines WHERE state='fired'")
    assert missed == [("first_report", 1, "值班员", "张明")] * 2
    assert len({line["id"] for line in lines()}) == 6


def show_incident(monkeypatch, capsys, reply: dict) -> list[str]:
    """What `yuqingd incident ID` prints for ``reply``: the lines under 经过."""
    import argparse

    from yuqingd.commands import incidents as view

    monkeypatch.setattr(view, "call", lambda args, payload: (0, reply))
    capsys.readouterr()
    assert view.cmd_incident(argparse.Namespace(incident=reply["incident"]["id"])) == 0
    out = capsys.readouterr().out.splitlines()
    start = out.index("经过：") + 1
    end = next((n for n, line in enumerate(out) if n >= start and not line.startswith("  ")),
               len(out))
    return [line.strip() for line in out[start:end]]


async def test_incident_view_tells_each_step_in_chinese(make_config, autojump_clock,
                                                       monkeypatch, capsys):
    """`yuqingd incident`: an unacknowledged level's escalation and a late first report's
    escalation are told apart, in Chinese; the daemon is 系统."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules()), harness) as daemon:
        burst(harness)
        await settle()
        (incident,) = daemon.store.incidents()
        await trio.sleep(20 * MINUTE)
        await command(daemon, "ack", incident=incident.id, by="李华")
        await trio.sleep(45 * MINUTE)
        reply = await command(daemon, "incident", incident=incident.id)
    steps = [line.split("  ", 1)[1] for line in show_incident(monkeypatch, capsys, reply)]
    assert steps == [
        "生成事件  系统  规则 negative-burst，对象 六处学校",
        "确认逾期  系统  第1级 值班员 张明 未在时限内确认",
        "超时未确认，升级  系统  第1级 → 第2级",
        "确认  李华",
        "首报逾期  系统  第2级 办公室主任 李华 未在时限内首报",
        "首报逾期，升级  系统  第2级 → 第3级，首报逾期",
    ]


def test_incident_view_says_the_daemons_notes_in_chinese(monkeypatch, capsys):
    """Every action the daemon records is named in Chinese, and its fields with durations in
    小时/分钟 rather than seconds; people's own notes are shown as written."""
    rows = [
        ("opened", "yuqingd", {"rule": "negative-burst", "key": "六处学校"}),
        ("notification.silenced", "yuqingd",
         {"id": "20260510-001:incident.opened:L1:open:duty-phone", "kind": "incident.opened",
          "level": 1, "channel": "duty-phone", "silence": 1}),
        ("escalated", "yuqingd", {"from_level": 1, "level": 2, "late_seconds": 1200.2}),
        ("repeated", "yuqingd", {"level": 3}),
        ("repeats.done", "yuqingd", {"level": 3, "times": 2}),
        ("acknowledged", "王强", {"note": "level 1 → 2 已核实"}),
        ("downgraded", "yuqingd", {"previous": "较大", "severity": "一般", "quiet": 5400.0}),
        ("closed", "yuqingd", {"quiet": 3600.0, "note": ""}),
    ]
    reply = {"incident": {"id": "20260510-001", "title": "涉校负面信息集中出现",
                          "severity": "较大", "rule": "negative-burst", "key": "六处学校",
                          "stage": "closed", "level": 3, "items": 3,
                          "opened_at": "2026-05-10T10:00:00+08:00", "deadlines": {},
                          "chain": [{"level": 1, "notify": "值班员", "ack_within": 900}]},
             "transitions": [{"at": "2026-05-10T10:00:00+08:00", "action": action, "by": by,
                              "fields": fields} for action, by, fields in rows],
             "deadlines": [], "items": []}
    steps = [line.split("  ", 1)[1] for line in show_incident(monkeypatch, capsys, reply)]
    assert steps == [
        "生成事件  系统  规则 negative-burst，对象 六处学校",
        "通知被静默，未发出  系统  第1级事件生成通知（duty-phone）被静默 #1 拦下",
        "超时未确认，升级  系统  第1级 → 第2级，超时 20分钟",
        "仍未确认，再次提醒  系统  第3级",
        "提醒次数已满，停止提醒  系统  第3级已提醒 2 次",
        "确认  王强  level 1 → 2 已核实",
        "无新信息，降低严重程度  系统  较大 → 一般：1小时30分钟内无新信息",
        "结案  系统  确认后 1小时内无新信息，自动关闭",
    ]


def test_every_audit_action_has_chinese_words():
    """Each action the daemon can record (declared in ``yuqingd.runtime.audit.ACTIONS``, which
    ``Audit.record`` refuses to go beyond) has a Chinese name for the reports and
    `yuqingd incident`."""
    import re

    from yuqingd.reports.labels import ACTIONS as NAMES
    from yuqingd.runtime.audit import ACTIONS

    assert {"opened", "escalated", "missed.ack", "report.final", "closed"} <= set(ACTIONS)
    assert [action for action in ACTIONS if action not in NAMES] == []
    assert all(re.search(r"[\u4e00-\u9fff]", NAMES[a]) for a in ACTIONS)
