"""No reminder floods (issue 15): an incident nobody reports, left for two simulated weeks.

The chain is the shipped education-bureau one (its last level reminds every hour, no
``repeat_times``). Before the fix the last level's report deadlines re-armed every hour for
ever, each a new miss: hundreds of misses against one 组长 and several messages an hour. Now a
deadline is missed once, reminders stop after ``repeat_times`` (3 by default) and fold into one
daily overdue digest to the holder and the config's ``office`` role, until reported or closed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import yuqingd.simulate
from yuqingd.commands import incidents as incident_commands
from yuqingd.config import ConfigError, load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.simulate import parse_inputs, parse_time, simulate
from yuqingd.testing import Harness

CONFIG = """\
timezone: Asia/Shanghai
state_dir: state
rules: [rules.yaml]
sources:
  - {name: forum, kind: scripted}
notifiers:
  - {name: phone, kind: capture}
roles:
  值班员: {person: 张明, channels: [phone]}
  办公室主任: {person: 孙强, channels: [phone]}
  组长: {person: 王强, channels: [phone]}
  办公室: {person: 李华, channels: [phone]}
OFFICE
"""

RULES = """\
watchlist:
  entities:
    - {name: 第一中学, aliases: [一中]}
  negative_words: [食物中毒, 隐瞒]
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
deadlines:
  较大: {first_report: 2h, final_report: 7d}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    then:
      incident: {severity: 较大, chain: major}
"""

START = "2026-11-16T10:00:00+08:00"
UNTIL = "2026-11-30T10:00:00+08:00"  # two weeks


def lines(*, ack: bool, report_first: str | None = None, close: str | None = None) -> list[str]:
    """Three posts open a 较大 incident at 10:20 on Monday 2026-11-16; ``report_first`` and
    ``close``: when (day-hh:mm, day 0 the Monday) 王强 reports it first and closes it."""
    out: list[dict] = [
        {"at": f"2026-11-16T10:{10 * n:02d}:00+08:00", "source": "forum", "id": f"t{n}",
         "title": f"一中食堂食物中毒，学校还在隐瞒 #{n}", "url": f"https://forum.example/t/{n}"}
        for n in range(3)]
    incident = {"rule": "negative-burst", "key": "第一中学"}

    def at(when: str) -> str:
        day, hhmm = when.split("-")
        return f"2026-11-{16 + int(day)}T{hhmm}:00+08:00"

    if ack:
        out.append({"at": at("0-10:25"), "action": "ack", "by": "张明", "incident": incident})
    if report_first:
        out.append({"at": at(report_first), "action": "report", "stage": "first", "by": "王强",
                    "incident": incident})
    if close:
        out.append({"at": at(close), "action": "close", "by": "王强", "note": "误报",
                    "incident": incident})
    return [json.dumps(line, ensure_ascii=False) for line in out]


def run(tmp_path: Path, monkeypatch, inputs: list[str], *, office: bool = True):
    """Simulate; returns the output records and the ``incident`` reply at the end."""
    (tmp_path / "yuqingd.yaml").write_text(
        CONFIG.replace("OFFICE", "office: 办公室" if office else ""), encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(tmp_path / "yuqingd.yaml", plugins)
    shown: list[dict] = []
    open_core = yuqingd.simulate.open_core

    def keeping(*args, **kwargs):
        core = open_core(*args, **kwargs)
        close = core.close

        def close_after_looking() -> None:
            for row in core.store.incidents():
                shown.append(core.perform("incident", {"incident": row.id}, core.clock.time()))
            close()

        core.close = close_after_looking
        return core

    monkeypatch.setattr(yuqingd.simulate, "open_core", keeping)
    records = simulate(config, plugins, parse_inputs(inputs), until=parse_time(UNTIL))
    assert not [r for r in records if r["event"] == "error"]
    (reply,) = shown
    assert reply["ok"]
    return records, reply


def printed(monkeypatch, capsys, reply: dict) -> str:
    """What ``yuqingd incident ID`` prints for ``reply``."""
    monkeypatch.setattr(incident_commands, "call", lambda args, request: (0, reply))
    capsys.readouterr()  # the simulation's log lines
    assert incident_commands.cmd_incident(type("Args", (), {"incident": "x"})()) == 0
    return capsys.readouterr().out


def missed(records: list[dict]) -> list[tuple[str, int, str]]:
    return [(r["what"], r["level"], r["who"]) for r in records
            if r["event"] == "expectation.missed"]


def sent(records: list[dict], person: str, kind: str) -> list[dict]:
    return [r for r in records if r["event"] == "notification" and r["kind"] == kind
            and any(t["person"] == person for t in r["to"])]


@pytest.mark.parametrize("ack", [True, False], ids=["acknowledged", "unacknowledged"])
def test_an_unreported_incident_over_two_weeks_is_missed_once_and_reminded_boundedly(
        tmp_path, monkeypatch, capsys, ack):
    """Two weeks unreported: each deadline is one miss per level, the last level is reminded
    three times, then told once a day (with the office); ``incident`` shows the counts."""
    records, reply = run(tmp_path, monkeypatch, lines(ack=ack))
    if ack:  # the first report climbs the chain, one miss at each level
        assert missed(records) == [("first_report", 1, "张明"), ("first_report", 2, "孙强"),
                                   ("first_report", 3, "王强"), ("final_report", 3, "王强")]
    else:
        assert missed(records) == [("ack", 1, "张明"), ("ack", 2, "孙强"),
                                   ("first_report", 3, "王强"), ("final_report", 3, "王强")]
        assert len(sent(records, "王强", "incident.repeated")) == 3  # repeat_times' default
    overdue = sent(records, "王强", "incident.overdue")
    # 首报: the miss (told again) and 3 hourly reminders; 终报 (day 7) the same.
    assert len(overdue) == (1 if ack else 0) + 4 + 4
    reminded = [(r["what"], r["count"], r["times"]) for r in records
                if r["event"] == "incident.reminded"]
    assert reminded == [(kind, n, 3) for kind in ("first_report", "final_report")
                        for n in (1, 2, 3)]
    digests = sent(records, "王强", "incident.overdue_digest")
    assert [d["at"][5:16] for d in digests] == [f"11-{17 + d}T09:00" for d in range(14)]
    owed = [t["fields"]["what"] for t in reply["transitions"] if t["action"] == "digest"]
    assert owed == [["first_report"]] * 7 + [["first_report", "final_report"]] * 7
    assert sent(records, "李华", "incident.overdue_digest") == digests  # the office, same message
    assert len(sent(records, "李华", "incident.overdue")) == 0
    text = printed(monkeypatch, capsys, reply)
    assert "  首报逾期  已提醒 3 次，每日逾期汇总 14 次" in text
    assert "  终报逾期  已提醒 3 次，每日逾期汇总 7 次" in text
    assert text.count("\n") < 120  # before: over 2,500 lines for these two weeks
    assert len(reply["misses"]) == 4


def test_the_digest_stops_when_the_stage_is_reported_and_when_the_incident_closes(
        tmp_path, monkeypatch):
    """Reported on day 2: no more 首报 digests; closed on day 9: nothing more at all."""
    records, reply = run(tmp_path, monkeypatch,
                         lines(ack=True, report_first="2-10:30", close="9-15:00"))
    digests = sent(records, "王强", "incident.overdue_digest")
    assert [d["at"][5:16] for d in digests] == ["11-17T09:00", "11-18T09:00",  # 首报
                                                "11-24T09:00", "11-25T09:00"]  # 终报 (day 7)
    owed = [t["fields"]["what"] for t in reply["transitions"] if t["action"] == "digest"]
    assert owed == [["first_report"]] * 2 + [["final_report"]] * 2
    assert not [r for r in records if r["event"] == "notification"
                and r["at"] > "2026-11-25T15:00"]
    assert missed(records)[-1] == ("final_report", 3, "王强")


def test_without_an_office_the_digest_goes_to_the_last_level_only(tmp_path, monkeypatch):
    """No ``office:`` in the config: the holder of the last level gets the digest alone."""
    records, _ = run(tmp_path, monkeypatch, lines(ack=True), office=False)
    digests = [r for r in records if r["event"] == "notification"
               and r["kind"] == "incident.overdue_digest"]
    assert digests and all([t["person"] for t in d["to"]] == ["王强"] for d in digests)


def test_an_office_that_is_no_role_is_rejected(tmp_path):
    """``office:`` must name a role; a typo is reported with its place and a suggestion."""
    (tmp_path / "yuqingd.yaml").write_text(CONFIG.replace("OFFICE", "office: 办公"),
                                           encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "yuqingd.yaml", Plugins(get_plugin_manager(extra=(Harness(),))))
    assert "未定义的角色 '办公'" in str(raised.value) and "办公室" in str(raised.value)
