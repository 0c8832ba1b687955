"""Threshold kinds, key dates, vigilance and actions, run through the simulator (virtual time)."""

from __future__ import annotations

import json
import textwrap

import pytest

from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.rule_tests import standalone_config
from yuqingd.simulate import parse_inputs, simulate

HEADER = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
    - {name: 城关第二中学, aliases: [城关二中]}
  topics:
    食品安全: [变质, 食物中毒]
  negative_words: [体罚, 变质, 食物中毒]
calendar:
  - {name: 高考, each_year: {from: "06-07", to: "06-10"}, vigilance: high}
  - {name: 国庆, holiday: 国庆节, vigilance: elevated}
chains:
  c: [{notify: 值班员}]
rules:
"""


@pytest.fixture
def run(tmp_path):
    plugins = Plugins(get_plugin_manager())

    def run(rules: str, posts: list[tuple[str, str]], until: str | None = None,
            header: str = HEADER, actions: tuple = (), extra: tuple = (),
            **post_fields) -> list[dict]:
        pack = tmp_path / "pack.yaml"
        pack.write_text(header + textwrap.indent(textwrap.dedent(rules), "  "), encoding="utf-8")
        config, temp = standalone_config([pack], plugins)
        lines = [{"at": at, "id": f"p{i}", "title": title, **post_fields}
                 for i, (at, title) in enumerate([*posts, *extra])] + list(actions)
        lines.sort(key=lambda r: r["at"])
        records = [json.dumps(r, ensure_ascii=False) for r in lines]
        inputs = parse_inputs(records)
        end = inputs[-1].at + 3600 if until is None else parse_inputs(
            [json.dumps({"at": until, "title": ""})])[0].at
        with temp:
            return simulate(config, plugins, inputs, until=end)

    return run


def fired(out: list[dict]) -> list[tuple[str, str, str]]:
    return [(o["at"][5:16], o["rule"], o["key"]) for o in out if o["event"] == "rule.fired"]


def test_runtime_spike_fires_when_rate_jumps_over_baseline(run):
    """Spike: the last hour holds 3× the hourly rate of the previous day and ≥ 4 items."""
    rules = """\
    - id: spike
      title: 讨论量突增
      match: {entity: any}
      threshold: {spike: {factor: 3, within: 1h, baseline: 24h, min_count: 4}}
      then: {tag: [突增]}
    """
    quiet = [(f"2026-05-09T{h:02d}:00:00+08:00", f"六处学校日常 {h}") for h in range(0, 24, 2)]
    burst = [(f"2026-05-10T09:{m:02d}:00+08:00", f"六处学校热议 {m}") for m in (0, 10, 20, 30)]
    out = run(rules, quiet + burst)
    assert fired(out) == [("05-10T09:30", "spike", "六处学校")]


def test_runtime_new_story_fires_once_per_story_not_for_reposts(run):
    """new_story: the first item of a story fires; its reposts do not."""
    rules = """\
    - id: new-negative-story
      title: 新的负面话题
      match: {entity: any, sentiment: negative}
      threshold: {new_story: true, per: story}
      then: {notify: {role: 值班员}}
    """
    out = run(rules, [
        ("2026-05-10T10:00:00+08:00", "六处学校老师体罚学生，家长投诉无门，孩子脸上有红印"),
        ("2026-05-10T10:05:00+08:00", "转发：六处学校老师体罚学生，家长投诉无门，孩子脸上有红印！"),
        ("2026-05-10T10:09:00+08:00", "城关二中食堂饭菜变质，多名学生腹泻就医"),
    ])
    assert [(k[1], k[2] != "") for k in fired(out)] == [("new-negative-story", True)] * 2
    notes = [o for o in out if o["event"] == "notification"]
    assert [n["kind"] for n in notes] == ["rule.notify"] * 2
    assert notes[0]["to"] == [{"role": "值班员", "person": "值班员"}]


def test_runtime_flatline_reports_a_silent_topic_once(run):
    """Flatline: a topic with no item for 6h is reported once, and again after it resumes."""
    rules = """\
    - id: food-silence
      title: 食品安全话题无更新（检查信息源）
      match: {topic: 食品安全}
      threshold: {flatline: {silent_for: 6h}, per: topic}
      then: {notify: {role: 值班员}}
    """
    out = run(rules, [
        ("2026-05-10T00:00:00+08:00", "城关二中食堂饭菜变质"),
        ("2026-05-10T20:00:00+08:00", "城关二中又有食物中毒传闻"),
    ], until="2026-05-11T04:00:00+08:00")
    flat = [(o["at"][5:16], o["key"]) for o in out if o["event"] == "flatline"]
    assert flat == [("05-10T06:00", "食品安全"), ("05-11T02:00", "食品安全")]


def test_runtime_vigilance_lowers_threshold_on_key_dates(run):
    """During 高考 (vigilance high) two items suffice where three are needed otherwise."""
    rules = """\
    - id: burst
      title: 集中出现
      match: {entity: any, sentiment: negative}
      threshold: {count: 3, within: 1h}
      vigilance: {high: {count: 2, severity: 重大}}
      then: {incident: {severity: 较大, chain: c}}
    """
    normal = run(rules, [("2026-06-01T10:00:00+08:00", "六处学校体罚"),
                         ("2026-06-01T10:05:00+08:00", "六处学校又体罚")])
    assert fired(normal) == []
    gaokao = run(rules, [("2026-06-08T10:00:00+08:00", "六处学校体罚"),
                         ("2026-06-08T10:05:00+08:00", "六处学校又体罚")])
    opened = [o for o in gaokao if o["event"] == "incident.opened"]
    assert [(o["key"], o["severity"]) for o in opened] == [("六处学校", "重大")]


def test_runtime_only_on_and_except_on_gate_firing(run):
    """only_on limits a rule to key dates; except_on silences it on them (国庆 from holidays)."""
    rules = """\
    - id: holiday-only
      title: 假期期间任何负面
      match: {entity: any, sentiment: negative}
      only_on: [国庆]
      then: {tag: [假期]}
    - id: not-on-holiday
      title: 非假期负面
      match: {entity: any, sentiment: negative}
      except_on: [国庆]
      then: {tag: [平日]}
    """
    holiday = run(rules, [("2026-10-03T10:00:00+08:00", "六处学校体罚")])
    weekday = run(rules, [("2026-10-12T10:00:00+08:00", "六处学校体罚")])
    assert [f[1] for f in fired(holiday)] == ["holiday-only"]
    assert [f[1] for f in fired(weekday)] == ["not-on-holiday"]


def test_runtime_cooldown_keeps_plain_notifications_from_repeating(run):
    """A rule without an incident fires once per key within its cool-down."""
    rules = """\
    - id: each-negative
      title: 负面信息
      match: {entity: any, sentiment: negative}
      cooldown: 30m
      then: {notify: {role: 值班员}}
    """
    out = run(rules, [(f"2026-05-10T10:{m:02d}:00+08:00", f"六处学校体罚 {m}")
                      for m in (0, 10, 20, 35)])
    assert [f[0] for f in fired(out)] == ["05-10T10:00", "05-10T10:35"]


def test_runtime_watch_starts_and_ends(run):
    """then.watch tracks the key for the given time: watch.started, then watch.ended."""
    rules = """\
    - id: track
      title: 跟踪
      match: {entity: any, sentiment: negative}
      then: {watch: 2h}
    """
    out = run(rules, [("2026-05-10T10:00:00+08:00", "六处学校体罚")],
              until="2026-05-10T13:00:00+08:00")
    watch = [(o["at"][11:16], o["event"], o["key"]) for o in out if o["event"].startswith("watch")]
    assert watch == [("10:00", "watch.started", "六处学校"), ("12:00", "watch.ended", "六处学校")]


def test_runtime_schedule_fires_weekly_report_on_monday(run):
    """A schedule rule fires at its time in the zone; a weekly report covers the last week."""
    rules = """\
    - id: weekly-briefing
      title: 信息周报
      schedule: "monday 09:00"
      then: {report: weekly}
    """
    out = run(rules, [("2026-11-20T10:00:00+08:00", "开始")],
              until="2026-12-01T00:00:00+08:00")
    reports = [(o["at"], o["kind"], o["period"]) for o in out if o["event"] == "report"]
    assert reports == [("2026-11-23T09:00:00+08:00", "weekly", "2026-W47"),
                       ("2026-11-30T09:00:00+08:00", "weekly", "2026-W48")]


def test_runtime_keyword_rule_without_entity_fires_per_story(run):
    """A rule on keywords alone fires for items naming no school, once per story."""
    rules = """\
    - id: fall
      title: 校园坠楼
      match: {keywords: {any: [坠楼]}}
      then: {notify: {role: 值班员}}
    """
    out = run(rules, [
        ("2026-05-10T10:00:00+08:00", "某中学学生坠楼，原因正在调查"),
        ("2026-05-10T10:01:00+08:00", "转：某中学学生坠楼，原因正在调查"),
        ("2026-05-10T10:30:00+08:00", "另一地小学发生学生坠楼事件，警方介入"),
    ])
    assert len(fired(out)) == 2


def test_runtime_schedule_rules_do_not_fire_on_items(run):
    """A schedule rule fires on its timetable only, never because an item arrived."""
    rules = """\
    - id: morning-reminder
      title: 早间提醒
      schedule: "daily 08:00"
      then: {notify: {role: 值班员}}
    """
    out = run(rules, [("2026-05-10T10:00:00+08:00", "六处学校体罚"),
                      ("2026-05-10T11:00:00+08:00", "城关二中变质")],
              until="2026-05-11T09:00:00+08:00")
    assert [o["at"] for o in out if o["event"] == "notification"] == ["2026-05-11T08:00:00+08:00"]


def test_runtime_flatline_with_incident_does_not_open_a_second_while_open(run):
    """A second silence while the first flatline incident is open opens no duplicate."""
    rules = """\
    - id: source-silent
      title: 信息源长时间无数据
      match: {topic: 食品安全}
      threshold: {flatline: {silent_for: 2h}, per: topic}
      then: {incident: {severity: 一般, chain: c}}
    """
    out = run(rules, [("2026-05-10T00:00:00+08:00", "城关二中食堂饭菜变质"),
                      ("2026-05-10T03:00:00+08:00", "城关二中食堂又变质")],
              until="2026-05-10T08:00:00+08:00")
    assert [o["event"] for o in out if o["event"] in ("flatline", "incident.opened")] == [
        "flatline", "incident.opened", "flatline"]


def test_runtime_notify_several_roles_on_one_channel_reaches_all(run):
    """Roles sharing a channel get one notification addressed to all of them."""
    rules = """\
    - id: tell-both
      title: 通知两位
      match: {entity: any, sentiment: negative}
      then: {notify: {role: [值班员, 组长]}}
    """
    text = HEADER.replace("c: [{notify: 值班员}]", "c: [{notify: 值班员}]\n  d: [{notify: 组长}]")
    out = run(rules, [("2026-05-10T10:00:00+08:00", "六处学校体罚")], header=text)
    (note,) = [o for o in out if o["event"] == "notification"]
    assert [t["role"] for t in note["to"]] == ["值班员", "组长"] and note["key"] == "六处学校"


def events(out: list[dict], *kinds: str) -> list[tuple[str, str]]:
    return [(o["at"][5:16], o["event"]) for o in out if o["event"] in kinds]


def test_runtime_spike_needs_the_factor_over_a_busy_baseline(run):
    """A burst that is not 3× a busy day's hourly rate is no spike."""
    rules = """\
    - id: spike
      title: 讨论量突增
      match: {entity: any}
      threshold: {spike: {factor: 3, within: 1h, baseline: 24h, min_count: 4}}
      then: {tag: [突增]}
    """
    busy = [(f"2026-05-09T{h:02d}:{m:02d}:00+08:00", f"六处学校日常 {h} {m}")
            for h in range(10, 24) for m in (0, 20, 40)]  # 3 an hour all day
    burst = [(f"2026-05-10T09:{m:02d}:00+08:00", f"六处学校热议 {m}") for m in (0, 10, 20, 30)]
    # (The busy day's own start, against an empty morning, is a spike; the burst is not.)
    assert [f for f in fired(run(rules, busy + burst)) if f[0].startswith("05-10")] == []


def test_runtime_new_story_ignores_reposts_even_without_cooldown(run):
    """With cooldown 0, a story's reposts still do not count as new stories."""
    rules = """\
    - id: new-story
      title: 新话题
      match: {entity: any}
      threshold: {new_story: true, per: story}
      cooldown: 0s
      then: {tag: [新]}
    """
    out = run(rules, [
        ("2026-05-10T10:00:00+08:00", "六处学校老师体罚学生，家长投诉无门，孩子脸上有红印"),
        ("2026-05-10T10:05:00+08:00", "转发：六处学校老师体罚学生，家长投诉无门，孩子脸上有红印！"),
        ("2026-05-10T10:06:00+08:00", "转：六处学校老师体罚学生，家长投诉无门，孩子脸上有红印"),
    ])
    assert len(fired(out)) == 1


def test_runtime_high_vigilance_falls_back_to_elevated_override(run):
    """On a high-vigilance day a rule with only an elevated override uses it."""
    rules = """\
    - id: burst
      title: 集中出现
      match: {entity: any, sentiment: negative}
      threshold: {count: 3, within: 1h}
      vigilance: {elevated: {count: 2}}
      then: {tag: [x]}
    """
    out = run(rules, [("2026-06-08T10:00:00+08:00", "六处学校体罚"),
                      ("2026-06-08T10:05:00+08:00", "六处学校又体罚")])
    assert len(fired(out)) == 1


def test_runtime_except_on_any_silences_every_key_date(run):
    """except_on: [any] keeps a rule quiet on any key date."""
    rules = """\
    - id: weekday-only
      title: 平日
      match: {entity: any, sentiment: negative}
      except_on: [any]
      then: {tag: [x]}
    """
    assert fired(run(rules, [("2026-06-08T10:00:00+08:00", "六处学校体罚")])) == []
    assert len(fired(run(rules, [("2026-06-20T10:00:00+08:00", "六处学校体罚")]))) == 1


def test_runtime_closed_incident_items_do_not_reopen(run):
    """After the final report closes an incident, one more repost opens nothing."""
    rules = """\
    - id: burst
      title: 集中出现
      match: {entity: any, sentiment: negative}
      threshold: {count: 3, within: 1h}
      then: {incident: {severity: 较大, chain: c}}
    """
    pack_posts = [("2026-05-10T10:00:00+08:00", "六处学校体罚 1"),
                  ("2026-05-10T10:01:00+08:00", "六处学校体罚 2"),
                  ("2026-05-10T10:02:00+08:00", "六处学校体罚 3")]
    out = run(rules, pack_posts, actions=[
        {"at": "2026-05-10T10:05:00+08:00", "action": "report", "stage": "final", "by": "张明",
         "incident": {"rule": "burst", "key": "六处学校"}}],
        extra=[("2026-05-10T10:10:00+08:00", "六处学校体罚 4")])
    assert [e for _, e in events(out, "incident.opened", "incident.closed")] == [
        "incident.opened", "incident.closed"]


def test_runtime_flatline_incident_closes_when_activity_resumes(run):
    """An acknowledged flatline incident closes when the topic is active again, so the next
    silence opens a new incident."""
    rules = """\
    - id: quiet
      title: 主题无更新
      match: {topic: 食品安全}
      threshold: {flatline: {silent_for: 2h}, per: topic}
      then: {incident: {severity: 一般, chain: c}}
    """
    out = run(rules, [("2026-05-10T00:00:00+08:00", "城关二中食堂饭菜变质")], actions=[
        {"at": "2026-05-10T02:30:00+08:00", "action": "ack", "by": "张明",
         "incident": {"rule": "quiet", "key": "食品安全"}}],
        extra=[("2026-05-10T03:00:00+08:00", "城关二中食堂又变质")],
        until="2026-05-10T06:00:00+08:00")
    assert [e for _, e in events(out, "incident.opened", "incident.closed")] == [
        "incident.opened", "incident.closed", "incident.opened"]


def test_runtime_flatline_item_at_the_due_instant_rearms(run):
    """Activity at exactly the moment a silence is reported still starts a new watch."""
    rules = """\
    - id: quiet
      title: 主题无更新
      match: {topic: 食品安全}
      threshold: {flatline: {silent_for: 2h}, per: topic}
      then: {tag: [x]}
    """
    out = run(rules, [("2026-05-10T00:00:00+08:00", "城关二中食堂变质"),
                      ("2026-05-10T02:00:00+08:00", "城关二中食堂又变质")],
              until="2026-05-10T05:00:00+08:00")
    assert events(out, "flatline") == [("05-10T02:00", "flatline"), ("05-10T04:00", "flatline")]


def test_runtime_notify_lists_expand_and_ids_stay_unique(run):
    """notify roles may be a $list; two firings within one second are two notifications."""
    rules = """\
    - id: each
      title: 每条
      match: {entity: any, sentiment: negative}
      cooldown: 0s
      then: {notify: {role: $领导}}
    """
    header = HEADER.replace("chains:", "lists:\n  领导: [值班员, 组长]\nchains:").replace(
        "c: [{notify: 值班员}]", "c: [{notify: 值班员}]\n  d: [{notify: 组长}]")
    out = run(rules, [("2026-05-10T10:00:00.100+08:00", "六处学校体罚"),
                      ("2026-05-10T10:00:00.600+08:00", "城关二中体罚")], header=header)
    notes = [o for o in out if o["event"] == "notification"]
    assert len(notes) == 2 and len({n["id"] for n in notes}) == 2
    assert [t["role"] for t in notes[0]["to"]] == ["值班员", "组长"]


def test_runtime_two_inline_author_lists_in_one_rule_both_count(run):
    """Two author lists written inline in one rule are kept apart."""
    rules = """\
    - id: trolls
      title: 可疑账号
      match: {any: [{author_in: [水军甲]}, {author_in: [水军乙]}]}
      cooldown: 0s
      then: {tag: [x]}
    """
    assert len(fired(run(rules, [("2026-05-10T10:00:00+08:00", "六处学校")],
                         author="水军甲"))) == 1
