"""A full simulated duty week, Monday 2026-11-16 to Monday 2026-11-23 (Asia/Shanghai), through
`yuqingd simulate`: two shifts a day on a rotating roster, a key date (期中考试, Thu–Fri), two
incidents with missed deadlines, and the Monday briefing. Everything runs on the simulated
clock; the assertions are on what duty officers and leaders would receive.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from yuqingd.config import load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.simulate import parse_inputs, parse_time, simulate
from yuqingd.testing import Harness

from .conftest import REPO

WEEK = REPO / "tests/week"
UNTIL = "2026-11-23T13:00:00+08:00"
FOOD = {"rule": "negative-burst", "key": "第一中学"}
BULLYING = {"rule": "negative-burst", "key": "实验小学"}


def at(day: int, hhmm: str) -> str:
    """Day 0 is Monday 2026-11-16; ``hhmm`` may carry seconds."""
    seconds = "" if hhmm.count(":") == 2 else ":00"
    return f"2026-11-{16 + day:02d}T{hhmm}{seconds}+08:00"


def post(day: int, hhmm: str, n: int, title: str) -> dict:
    return {"at": at(day, hhmm), "source": "forum", "id": f"t{n}", "title": title,
            "url": f"https://forum.example/t/{n}"}


def act(day: int, hhmm: str, action: str, by: str, **args) -> dict:
    return {"at": at(day, hhmm), "action": action, "by": by, **args}


OFFICERS = {"白班": ["张明", "赵丽", "陈刚"], "夜班": ["陈刚", "张明", "赵丽"]}  # as rostered


def officer(day: int, shift: str) -> str:
    return OFFICERS[shift][day % 3]


def check_ins() -> list[dict]:
    """Every officer checks in ten minutes into the shift, except Wednesday night's (赵丽),
    who checks in only at 21:40."""
    lines = []
    for day in range(8):
        for shift, start in (("白班", "08:10"), ("夜班", "20:10")):
            if (day, shift) == (2, "夜班"):
                lines.append(act(day, "21:40", "check_in", officer(day, shift)))
            elif (day, shift) != (7, "夜班"):
                lines.append(act(day, start, "check_in", officer(day, shift)))
    return lines


def week() -> list[dict]:
    lines = check_ins() + [
        post(0, "09:00", 1, "第一中学学生科技竞赛获奖受表彰"),
        post(0, "15:00", 2, "县教育局部署冬季校园安全工作"),
        # Tuesday: three posts about food poisoning open incident A (较大) at 10:40. The day
        # officer (赵丽) does not acknowledge within 15 min: it goes to the leader (王强).
        post(1, "10:00", 3, "一中食堂疑似食物中毒，多名学生送医"),
        post(1, "10:20", 4, "第一中学食物中毒的事学校还在隐瞒"),
        post(1, "10:40", 5, "一中学生食物中毒，家长聚集校门口"),
        act(1, "11:10", "ack", "王强", incident=FOOD, note="已安排核实"),
        act(1, "14:00", "report", "王强", incident=FOOD, stage="first", note="已向局领导首报"),
        act(2, "16:00", "report", "王强", incident=FOOD, stage="final", note="调查结束"),
        # Thursday, key date 期中考试 (high vigilance): two posts suffice and the incident is
        # 重大. The officer (张明) acknowledges in time.
        post(3, "14:00", 6, "实小学生被欺凌视频流传"),
        post(3, "14:30", 7, "实验小学欺凌事件家长要求说法"),
        act(3, "14:40", "ack", "张明", incident=BULLYING, note="已联系学校"),
        act(3, "17:00", "report", "张明", incident=BULLYING, stage="first"),
        act(4, "11:00", "report", "张明", incident=BULLYING, stage="final", note="已处理完毕"),
        act(1, "19:50", "handover", "赵丽", note="第一中学食物中毒事件已首报，待终报"),
        # The counties' weekly reports are due Friday 17:00: C县 is a day late.
        act(3, "16:00", "submit", "刘芳", unit="A旗"),
        act(4, "16:30", "submit", "马丽", unit="B区"),
        act(5, "09:00", "submit", "周军", unit="C县", note="补报"),
    ]
    return sorted(lines, key=lambda line: line["at"])  # stable: same-time lines keep order


@pytest.fixture(scope="module")
def out() -> list[dict]:
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(WEEK / "yuqingd.yaml", plugins)
    inputs = parse_inputs([json.dumps(line, ensure_ascii=False) for line in week()])
    records = simulate(config, plugins, inputs, until=parse_time(UNTIL))
    assert not [r for r in records if r["event"] == "error"]
    return records


def events(out: list[dict], name: str, **fields) -> list[dict]:
    return [r for r in out if r["event"] == name
            and all(r.get(k) == v for k, v in fields.items())]


def people(record: dict) -> list[str]:
    return [r["person"] for r in record["to"]]


def test_incident_a_escalates_to_the_leader_on_duty_and_its_late_first_report_is_recorded(out):
    (opened,) = events(out, "incident.opened", key="第一中学")
    incident = opened["incident"]
    assert (opened["at"], opened["severity"]) == (at(1, "10:40"), "较大")
    first = events(out, "notification", incident=incident, kind="incident.opened")
    assert [n["to"] for n in first] == [[{"role": "值班员", "person": "赵丽"}]]
    # Nobody acknowledged in 15 min: recorded against Tuesday's day officer, then the leader.
    missed = events(out, "expectation.missed", incident=incident)
    assert [(m["at"], m["what"], m["role"], m["who"]) for m in missed] == [
        (at(1, "10:55"), "ack", "值班员", "赵丽"),
        (at(1, "11:10"), "ack", "带班领导", "王强"),
        # 较大: first report within 2h of opening; 王强 reported only at 14:00.
        (at(1, "12:40"), "first_report", "办公室主任", "孙强"),
    ]
    escalated = events(out, "notification", incident=incident, kind="incident.escalated")
    assert [people(n) for n in escalated] == [["王强"], ["孙强"]]
    overdue = events(out, "notification", incident=incident, kind="incident.overdue")
    assert [(n["at"], people(n)) for n in overdue] == [(at(1, "12:40"), ["孙强"])]
    (closed,) = events(out, "incident.closed", incident=incident)
    assert (closed["at"], closed["by"]) == (at(2, "16:00"), "王强")


def test_on_the_key_date_a_major_incident_opens_sooner_with_halved_deadlines(out):
    (opened,) = events(out, "incident.opened", key="实验小学")
    incident = opened["incident"]
    assert (opened["at"], opened["severity"]) == (at(3, "14:30"), "重大")
    missed = [(m["at"], m["what"], m["who"]) for m in events(out, "expectation.missed",
                                                             incident=incident)]
    assert missed == [
        (at(3, "14:37:30"), "ack", "张明"),         # 15 min halved by the key date
        (at(3, "15:00"), "first_report", "王强"),   # 1 h halved; the leader held it then
        (at(3, "15:07:30"), "first_report", "孙强"),  # the new level's own (halved) time
        (at(3, "19:00"), "follow_up", "孙强"),      # 4 h halved after the 17:00 first report
    ]
    # The follow-up is missed once; 孙强 is reminded every 2 h, at most twice (repeat_times: 2),
    # then in the daily digest at 09:00, until the final report at 11:00.
    reminded = events(out, "incident.reminded", incident=incident)
    assert [(r["at"], r["what"], r["count"]) for r in reminded] == [
        (at(3, "21:00"), "follow_up", 1), (at(3, "23:00"), "follow_up", 2)]
    told = [(n["at"], n["kind"]) for n in events(out, "notification", incident=incident)
            if n["kind"].startswith("incident.overdue")]
    assert told[-3:] == [(at(3, "21:00"), "incident.overdue"), (at(3, "23:00"), "incident.overdue"),
                         (at(4, "09:00"), "incident.overdue_digest")]
    (escalated,) = events(out, "incident.escalated", incident=incident, overdue="first_report")
    assert (escalated["at"], escalated["level"]) == (at(3, "15:00"), 3)
    (closed,) = events(out, "incident.closed", incident=incident)
    assert closed["at"] == at(4, "11:00")


def test_a_missed_check_in_reminds_then_climbs_and_is_recorded_with_the_officer(out):
    missed = events(out, "expectation.missed", what="check_in")
    assert [(m["at"], m["subject"], m["who"]) for m in missed] == [
        (at(2, "20:30"), "2026-11-18/夜班/赵丽", "赵丽")]
    subject = {"what": "check_in", "subject": "2026-11-18/夜班/赵丽"}
    told = [(n["at"], n["kind"], people(n)) for n in events(out, "notification")
            if n["kind"].startswith("expectation.") and n["at"].startswith("2026-11-18T2")]
    assert told == [
        (at(2, "20:30"), "expectation.reminded", ["赵丽"]),
        (at(2, "21:00"), "expectation.escalated", ["李华"]),   # Wednesday's leader
        (at(2, "21:30"), "expectation.escalated", ["孙强"]),
        (at(2, "21:40"), "expectation.met", ["孙强", "李华", "赵丽"]),
    ]
    (met,) = events(out, "expectation.met", **subject)
    assert met["late"] is True
    assert len(events(out, "expectation.met", what="check_in")) == 15  # 16 shifts, 1 not due


def test_a_duty_report_at_every_shift_end_to_the_incoming_officer_and_leader(out):
    reports = events(out, "report", kind="duty")
    assert len(reports) == 14  # Monday 20:00 to Monday 08:00, two shifts a day
    assert [r["at"][5:16] for r in reports[:3]] == ["11-16T20:00", "11-17T08:00", "11-17T20:00"]
    tuesday_day = next(r for r in reports if r["period"] == "2026-11-17/白班")
    assert tuesday_day["recipients"] == [{"role": "值班员", "person": "张明"},
                                         {"role": "带班领导", "person": "王强"}]
    sent = events(out, "notification", kind="report.duty")  # one per channel, both on it
    assert len(sent) == 14 and all(len(n["to"]) == 2 for n in sent)


def test_key_date_staffing_gaps_are_warned_two_days_ahead_once_each(out):
    gaps = events(out, "duty.gap")
    assert [(g["at"][5:16], g["day"], g["shift"]) for g in gaps] == [
        ("11-17T00:00", "2026-11-19", "白班"), ("11-17T00:00", "2026-11-19", "夜班"),
        ("11-18T00:00", "2026-11-20", "白班"), ("11-18T00:00", "2026-11-20", "夜班")]


def test_the_county_that_reports_late_is_reminded_escalated_and_recorded_late(out):
    met = {m["role"]: (m["at"], m["late"]) for m in events(out, "expectation.met",
                                                            what="submission")}
    assert met == {"A旗": (at(3, "16:00"), False), "B区": (at(4, "16:30"), False),
                   "C县": (at(5, "09:00"), True)}
    (missed,) = events(out, "expectation.missed", what="submission")
    assert (missed["at"], missed["role"]) == (at(4, "17:00"), "C县")
    climbed = events(out, "expectation.escalated", what="submission")
    assert [(e["at"], e["to"]) for e in climbed] == [(at(4, "17:00"), ["值班员"]),
                                                     (at(4, "18:00"), ["办公室主任"])]


def test_the_monday_briefing_covers_the_week_and_goes_to_the_leaders(out):
    briefing = events(out, "report", kind="weekly", period="2026-W47")
    assert [(b["at"], b["recipients"]) for b in briefing] == [
        (at(7, "09:00"), [{"role": "带班领导", "person": "王强"},
                          {"role": "办公室主任", "person": "孙强"}])]


def test_the_week_is_deterministic(out):
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(WEEK / "yuqingd.yaml", plugins)
    again = simulate(config, plugins, parse_inputs(
        [json.dumps(line, ensure_ascii=False) for line in week()]), until=parse_time(UNTIL))
    assert again == out
    assert Counter(r["event"] for r in out)["incident.opened"] == 2
