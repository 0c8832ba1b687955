"""The Monday briefing (信息周报) wired to a schedule rule: collected for the previous ISO week,
kept, delivered to the rule's notify roles, and read back with `yuqingd report weekly --week`
through the running daemon or, when none runs, from the state database."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
import trio

from yuqingd import cli
from yuqingd.testing import Harness, running_daemon

TZ = ZoneInfo("Asia/Shanghai")
SUNDAY = dt.datetime(2026, 11, 22, 10, tzinfo=TZ)  # the last day of 2026-W47
MONDAY_9 = dt.datetime(2026, 11, 23, 9, tzinfo=TZ).timestamp()

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
  negative_words: [体罚]
  positive_words: [表彰]
rules:
  - id: weekly-briefing
    title: 信息周报
    schedule: "每周一 09:00"
    then: {report: weekly, notify: {role: [带班领导, 办公室主任]}}
"""

CONFIG = """\
timezone: Asia/Shanghai
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
notifiers:
  - {{name: phone, kind: capture}}
  - {{name: mail, kind: capture}}
roles:
  带班领导: {{person: 李华, channels: [phone]}}
  办公室主任: {{person: 孙强, channels: [mail]}}
"""


def report_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()  # the daemon's own log lines
    # Without a daemon the CLI loads the config itself: it needs the test plugin kinds.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YUQINGD_PLUGINS", "tests.harness_plugin")
        code = cli.main(["report", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_monday_briefing_is_delivered_kept_and_read_back(make_config, autojump_clock,
                                                               capsys):
    """At Monday 09:00 the W47 briefing goes to the leader and the office head; `report weekly
    --week 2026-W47` prints the kept one via the daemon, and again once it has stopped."""
    path = make_config(CONFIG, RULES)
    harness = Harness()
    async with running_daemon(path, harness, start_epoch=SUNDAY.timestamp()) as daemon:
        harness.post("n1", "六处学校老师体罚学生")
        harness.post("p1", "六处学校教师获表彰")
        await daemon.clock.sleep_until(MONDAY_9 + 60)
        await trio.sleep(0.01)

        sent = [n for n in harness.sent if n.kind == "report.weekly"]
        assert sorted((n.channel, [(r.role, r.person) for r in n.to]) for n in sent) == [
            ("mail", [("办公室主任", "孙强")]), ("phone", [("带班领导", "李华")])]
        kept = daemon.store.kept_report("weekly", "2026-W47")
        assert "网络舆情信息周报（2026年第47周）" in kept["markdown"]
        assert "六处学校老师体罚学生" in kept["markdown"]
        assert all(n.text == kept["markdown"] for n in sent)
        assert kept["created_at"] == MONDAY_9

        # The daemon holds the store's lock: only the control socket can answer this. The CLI
        # runs in a real thread: hold virtual time still meanwhile, or the server's read
        # timeout could expire (virtually) before the thread has written its request.
        autojump_clock.autojump_threshold = math.inf
        try:
            code, out, err = await trio.to_thread.run_sync(
                report_cli, capsys, "weekly", "--week", "2026-W47", "--config", str(path))
            # Without --week: the last full week, as the daemon's clock has it (W48's Monday).
            default = await trio.to_thread.run_sync(
                report_cli, capsys, "weekly", "--config", str(path))
        finally:
            autojump_clock.autojump_threshold = 0
        assert code == 0 and "没有留存" not in err
        # The daemon keeps logging to the same stdout while the CLI runs in its thread.
        assert kept["markdown"] in out
        assert default[0] == 0 and "没有留存" not in default[2] and kept["markdown"] in default[1]
        markdown, html = kept["markdown"], kept["html"]

    code, out, err = report_cli(capsys, "weekly", "--week", "2026-w47", "--config", str(path))
    assert (code, err, out) == (0, "", markdown)
    code, out, _ = report_cli(capsys, "weekly", "--week", "2026-W47", "--html",
                              "--config", str(path))
    assert out == html
    code, out, err = report_cli(capsys, "weekly", "--week", "2026-W48", "--config", str(path))
    assert code == 0 and "没有留存的报告" in err and "2026年第48周" in out
    code, _, err = report_cli(capsys, "weekly", "--week", "2026-48", "--config", str(path))
    assert code == 1 and "无效的周次" in err


async def test_briefing_is_not_resent_after_a_restart(make_config, autojump_clock):
    """A restart after the Monday briefing sends nothing again; the kept one stays as made."""
    path = make_config(CONFIG, RULES)
    first = Harness()
    async with running_daemon(path, first, start_epoch=SUNDAY.timestamp()) as daemon:
        await daemon.clock.sleep_until(MONDAY_9 + 60)
        await trio.sleep(0.01)
    assert len([n for n in first.sent if n.kind == "report.weekly"]) == 2

    second = Harness()
    async with running_daemon(path, second, start_epoch=MONDAY_9 + 3600) as daemon:
        await daemon.clock.sleep_until(MONDAY_9 + 7200)
        await trio.sleep(0.01)
        assert [n for n in second.sent if n.kind == "report.weekly"] == []
        assert daemon.store.kept_report("weekly", "2026-W47")["created_at"] == MONDAY_9
