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
from yuqingd.simulate import parse_inputs, simulate
from yuqingd.testing import Harness

from .conftest import REPO

WEEK = REPO / "tests/week"
UNTIL = "2026-11-23T13:00:00+08:00"
FOOD = {"rule": "negative-burst", "key": "第一中学"}
BULLYING = {"rule": "negative-burst", "key": "实验小学"}


def at(day: int, hhmm: str) -> str:
    """Day 0 is Monday 2026-11-16."""
    return f"2026-11-{16 + day:02d}T{hhmm}:00+08:00"


def post(day: int, hhmm: str, n: int, title: str) -> dict:
    return {"at": at(day, hhmm), "source": "forum", "id": f"t{n}", "title": title,
            "url": f"https://forum.example/t/{n}"}


def act(day: int, hhmm: str, action: str, by: str, **args) -> dict:
    return {"at": at(day, hhmm), "action": action, "by": by, **args}


def week() -> list[dict]:
    lines = [
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
    ]
    return sorted(lines, key=lambda line: line["at"])


@pytest.fixture(scope="module")
def out() -> list[dict]:
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(WEEK / "yuqingd.yaml", plugins)
    inputs = parse_inputs([json.dumps(line, ensure_ascii=False) for line in week()])
    from yuqingd.simulate import parse_time

    records = simulate(config, plugins, inputs, until=parse_time(UNTIL))
    assert not [r for r in records if r["event"] == "error"]
    return records


def events(out: list[dict], name: str, **fields) -> list[dict]:
    return [r for r in out if r["event"] == name
            and all(r.get(k) == v for k, v in fields.items())]


def test_incident_a_escalates_to_the_leader_on_duty_when_the_officer_does_not_ack(out):
    (opened,) = events(out, "incident.opened", key="第一中学")
    assert (opened["at"], opened["severity"]) == (at(1, "10:40"), "较大")
    first = events(out, "notification", incident=opened["incident"], kind="incident.opened")
    assert [n["to"] for n in first] == [[{"role": "值班员", "person": "赵丽"}]]
    (escalated,) = events(out, "incident.escalated", incident=opened["incident"])
    assert escalated["at"] == at(1, "10:55")
    told = events(out, "notification", incident=opened["incident"], kind="incident.escalated")
    assert [n["to"] for n in told] == [[{"role": "带班领导", "person": "王强"}]]
    (closed,) = events(out, "incident.closed", incident=opened["incident"])
    assert closed["at"] == at(2, "16:00")


def test_on_the_key_date_two_posts_open_a_major_incident(out):
    (opened,) = events(out, "incident.opened", key="实验小学")
    assert (opened["at"], opened["severity"]) == (at(3, "14:30"), "重大")
    assert not events(out, "incident.escalated", incident=opened["incident"])


def test_the_monday_briefing_covers_the_week(out):
    (briefing,) = events(out, "report", kind="weekly")
    assert (briefing["at"], briefing["period"]) == (at(7, "09:00"), "2026-W47")


def test_the_week_is_deterministic(out):
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(WEEK / "yuqingd.yaml", plugins)
    from yuqingd.simulate import parse_time

    again = simulate(config, plugins, parse_inputs(
        [json.dumps(line, ensure_ascii=False) for line in week()]), until=parse_time(UNTIL))
    assert again == out
    assert Counter(r["event"] for r in out)["incident.opened"] == 2
