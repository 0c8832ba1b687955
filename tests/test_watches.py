"""Watches (跟踪): tracking summaries, closing summaries, extension, restarts — virtual time."""

from __future__ import annotations

import json
import textwrap

import pytest
import trio

from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.rule_tests import standalone_config
from yuqingd.simulate import parse_inputs, simulate
from yuqingd.testing import Harness, running_daemon

MINUTE, HOUR = 60, 3600
T0 = 1_778_378_400.0  # 2026-05-10 10:00 +08:00

RULES = """\
watchlist:
  entities:
    - {{name: 六处学校, aliases: [六处]}}
    - {{name: 城关第二中学, aliases: [城关二中]}}
  negative_words: [体罚, 殴打]
  positive_words: [表彰]
rules:
  - id: track
    title: 涉校负面信息跟踪
    match: {{entity: any, sentiment: negative}}
    cooldown: 1d
    then:
      notify: {{role: 值班员}}
      watch: {watch}
"""


def rules(watch: str) -> str:
    return RULES.format(watch=watch)


def watch_mail(harness: Harness) -> list[tuple[str, str]]:
    """(kind, local time) of every watch notification sent."""
    return [(n.kind, n.at[11:16]) for n in harness.sent if n.kind.startswith("watch.")]


async def settle() -> None:
    await trio.sleep(0.01)


async def sleep_until(daemon, epoch: float) -> None:
    await trio.sleep(epoch - daemon.clock.time())
    await settle()


async def test_watch_rule_started_sends_summaries_and_a_closing_summary(make_config,
                                                                        autojump_clock):
    """A rule's watch sends 跟踪情况 every summary_every to its roles, then 跟踪结束."""
    harness = Harness()
    config = make_config(rules=rules("{for: 6h, summary_every: 2h, notify: 办公室主任}"))
    async with running_daemon(config, harness) as daemon:
        harness.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + HOUR)
        harness.post("b", "六处学校体罚事件后续：家长聚集", url="https://news.example/b")
        harness.post("c", "城关二中表彰优秀教师")  # another school: not collected
        await sleep_until(daemon, T0 + 90 * MINUTE)
        harness.post("d", "六处学校召开家长会")  # neutral, about the watched school
        await sleep_until(daemon, T0 + 6 * HOUR + MINUTE)
    assert watch_mail(harness) == [("watch.summary", "12:00"), ("watch.summary", "14:00"),
                                   ("watch.closing", "16:00")]
    first, second, closing = [n for n in harness.sent if n.kind.startswith("watch.")]
    assert [(r.role, r.person) for r in first.to] == [("办公室主任", "李华")]
    assert "【跟踪情况】涉校负面信息跟踪（第 1 次）" in first.text
    assert "新增信息：2 条（2026-05-10T10:00:00+08:00 起），累计 3 条" in first.text
    assert "按倾向：负面 1，中性 1" in first.text
    assert "https://news.example/b" in first.text
    assert "新增信息：0 条" in second.text and "（本时段无新增信息）" in second.text
    assert "【跟踪结束】" in closing.text and "共收集信息：3 条" in closing.text
    assert "到期结束" in closing.text and closing.at.endswith("+08:00")


async def test_watch_scalar_form_reports_to_the_rules_notify_roles(make_config,
                                                                   autojump_clock):
    """``watch: 2h`` still works: summaries go to the rule's notify role (default every 4h,
    so a 2h watch sends only its closing summary)."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules("2h")), harness) as daemon:
        harness.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + 3 * HOUR)
    assert watch_mail(harness) == [("watch.closing", "12:00")]
    assert [r.person for r in harness.sent[-1].to] == ["张明"]


async def test_watch_activity_extends_it_up_to_max_for(make_config, autojump_clock):
    """An item near the end moves the end one interval past it, never beyond max_for."""
    harness = Harness()
    config = make_config(rules=rules(
        "{for: 2h, summary_every: 1h, max_for: 3h, notify: 办公室主任}"))
    async with running_daemon(config, harness) as daemon:
        harness.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + 90 * MINUTE)
        harness.post("b", "六处学校家长会")  # ends 12:00 → 12:30
        await sleep_until(daemon, T0 + 140 * MINUTE)
        harness.post("c", "六处学校再开家长会")  # would be 13:20; the bound is 13:00
        await sleep_until(daemon, T0 + 5 * HOUR)
    assert watch_mail(harness) == [("watch.summary", "11:00"), ("watch.summary", "12:00"),
                                   ("watch.closing", "13:00")]


async def test_watch_person_started_by_command(make_config, autojump_clock):
    """``watch start --entity`` sends summaries to the person; ``watch stop`` closes it."""
    harness = Harness()
    async with running_daemon(make_config(rules=rules("2h")), harness) as daemon:
        # An alias, as people write the name (and the items do): the watch is of 六处学校.
        start = {"command": "watch.start", "entity": "六处", "for": "3h", "every": "1h",
                 "by": "李华"}
        reply = await daemon.handle(start)  # what the control socket runs
        assert reply["ok"] and reply["until"] == "2026-05-10T13:00:00+08:00"
        assert reply["title"] == "监测对象：六处学校" and reply["every_zh"] == "1小时"
        refused = await daemon.handle({**start, "entity": "无名学校"})
        assert not refused["ok"] and "无名学校" in refused["error"]
        typo = await daemon.handle({**start, "entity": "城关第二中"})
        assert typo["error"] == "监测名单中没有 城关第二中（是否想写 '城关第二中学'？）"
        harness.post("a", "六处学校家长会", url="https://forum.example/a")
        await sleep_until(daemon, T0 + 90 * MINUTE)
        listed = (await daemon.handle({"command": "watch.list"}))["watches"]
        assert [(w["watch"], w["by"], w["items"]) for w in listed] == [(reply["watch"], "李华", 1)]
        stop = await daemon.handle({"command": "watch.stop", "watch": str(reply["watch"]),
                                    "by": "李华"})
        assert stop["ok"]
        await sleep_until(daemon, T0 + 4 * HOUR)
        assert (await daemon.handle({"command": "watch.list"}))["watches"] == []
    assert watch_mail(harness) == [("watch.summary", "11:00"), ("watch.closing", "11:30")]
    summary, closing = [n for n in harness.sent if n.kind.startswith("watch.")]
    assert [(r.role, r.person) for r in summary.to] == [("", "李华")]
    assert "监测对象：六处学校" in summary.text and "https://forum.example/a" in summary.text
    assert "由 李华 停止" in closing.text


async def test_watch_restart_across_a_summary_sends_it_once(make_config, autojump_clock):
    """Summaries due while the daemon was down go out once at start; the schedule goes on."""
    config = make_config(rules=rules("{for: 8h, summary_every: 2h, notify: 办公室主任}"))
    before, after = Harness(), Harness()
    async with running_daemon(config, before) as daemon:
        before.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + HOUR)
    assert watch_mail(before) == []
    # Down from 11:00 to 15:30: the 12:00 and 14:00 summaries were missed.
    async with running_daemon(config, after, start_epoch=T0 + 5.5 * HOUR) as daemon:
        await sleep_until(daemon, T0 + 7 * HOUR)
    assert watch_mail(after) == [("watch.summary", "15:30")]
    assert "（第 1 次）" in after.sent[-1].text


async def test_watch_restart_after_its_end_sends_only_the_closing_summary(make_config,
                                                                          autojump_clock):
    """A watch that ended while the daemon was down closes once at start, no late summary."""
    config = make_config(rules=rules("{for: 4h, summary_every: 2h, notify: 办公室主任}"))
    before, after = Harness(), Harness()
    async with running_daemon(config, before) as daemon:
        before.post("a", "六处学校老师体罚学生")
        await sleep_until(daemon, T0 + HOUR)
    async with running_daemon(config, after, start_epoch=T0 + 6 * HOUR) as daemon:
        await sleep_until(daemon, T0 + 9 * HOUR)
    assert watch_mail(after) == [("watch.closing", "16:00")]


def test_watch_unknown_role_or_field_is_a_located_config_error(make_config):
    """A typo in ``watch`` is reported with its file and line, not at run time."""
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    with pytest.raises(ConfigError) as info:
        load_config(make_config(rules=rules("{for: 6h, notify: 值斑员}")), plugins)
    errors = [str(e) for e in info.value.errors]
    assert len(errors) == 1 and "rules.yaml:14:" in errors[0] and "值斑员" in errors[0]
    with pytest.raises(ConfigError) as info:
        load_config(make_config(rules=rules("{for: 6h, sumary_every: 2h}")), plugins)
    assert "sumary_every" in str(info.value.errors[0])


def test_watch_and_silence_as_simulate_action_lines(tmp_path):
    """``yuqingd simulate`` runs watch.start / silence.add lines like the CLI: a story watch
    reports its reposts; a silenced rule's notification shows as notification.silenced."""
    pack = tmp_path / "pack.yaml"
    pack.write_text(textwrap.dedent(rules("2h")).replace(
        "rules:\n", "chains:\n  c: [{notify: 值班员}]\nrules:\n"), encoding="utf-8")
    plugins = Plugins(get_plugin_manager())
    config, temp = standalone_config([pack], plugins)
    lines = [
        {"at": "2026-05-10T10:00:00+08:00", "id": "a",
         "title": "城关二中举办开放日活动，家长参观校园"},
        {"at": "2026-05-10T10:01:00+08:00", "action": "watch.start", "story": "1", "for": "3h",
         "every": "1h", "notify": ["值班员"], "by": "张明"},
        {"at": "2026-05-10T10:02:00+08:00", "action": "silence.add", "rule": "track",
         "for": "1h", "reason": "已知", "by": "张明"},
        {"at": "2026-05-10T10:30:00+08:00", "id": "b",
         "title": "转发：城关二中举办开放日活动，家长参观校园"},
        {"at": "2026-05-10T10:40:00+08:00", "id": "c", "title": "六处学校老师体罚学生"},
    ]
    inputs = parse_inputs([json.dumps(line, ensure_ascii=False) for line in lines])
    with temp:
        out = simulate(config, plugins, inputs, until=inputs[-1].at + 3 * HOUR)
    assert [o for o in out if o["event"] == "error"] == []
    summaries = [(o["at"][11:16], o["new"]) for o in out if o["event"] == "watch.summary"]
    assert summaries == [("11:01", 1), ("12:01", 0)]
    silenced = [o["rule"] for o in out if o["event"] == "notification.silenced"]
    assert silenced == ["track"]
