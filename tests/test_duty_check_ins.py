"""The duty report lists the shift's check-ins (issue 15): on time, late (with the time due) or
missed; and counts its lone 一般 negative items. On trio's virtual clock with a real store."""

from __future__ import annotations

from yuqingd import commands
from yuqingd.testing import Harness, running_daemon

from .test_duty_report import CONFIG, RULES, at, sleep_until

CHECK_IN = CONFIG + "  check_in_within: 30m\n"  # the default, written out


def header(markdown: str) -> str:
    """The report's lines above its first section."""
    return markdown.split("\n## ", 1)[0]


async def test_duty_report_lists_each_check_in_on_time_late_or_missed(make_config,
                                                                      autojump_clock):
    """张明 checks in 20 min late, 赵丽 never: the day report says 迟到 with the time due, the
    night report 未签到."""
    harness = Harness()
    async with running_daemon(make_config(CHECK_IN, RULES), harness,
                              start_epoch=at(7)) as daemon:
        await sleep_until(daemon, at(8, 50))
        reply = commands.perform(daemon.core, "check_in", {"by": "张明"}, daemon.clock.time())
        assert reply["ok"] and reply["late"] is True
        await sleep_until(daemon, at(32, 1))  # past the night shift's end, 08:00 next day
        day = daemon.store.kept_report("duty", "2026-05-10/白班")
        night = daemon.store.kept_report("duty", "2026-05-10/夜班")
    assert ("\n\n值班签到：张明 迟到签到 2026-05-10T08:50:00+08:00"
            "（应于 2026-05-10T08:30:00+08:00 前）\n") in header(day["markdown"])
    assert "值班签到：张明 迟到签到 <time>2026-05-10T08:50:00+08:00</time>" in day["html"]
    assert ("值班签到：赵丽 未签到（应于 2026-05-10T20:30:00+08:00 前）"
            in header(night["markdown"]))


async def test_duty_report_on_time_check_in(make_config, autojump_clock):
    """A check-in within ``check_in_within`` reads 按时签到 and its time, no deadline."""
    harness = Harness()
    async with running_daemon(make_config(CHECK_IN, RULES), harness,
                              start_epoch=at(7)) as daemon:
        await sleep_until(daemon, at(8, 10))
        commands.perform(daemon.core, "check_in", {"by": "张明"}, daemon.clock.time())
        await sleep_until(daemon, at(20, 1))
        day = daemon.store.kept_report("duty", "2026-05-10/白班")
    assert "值班签到：张明 按时签到 2026-05-10T08:10:00+08:00\n" in header(day["markdown"])



async def test_duty_report_counts_lone_minor_negative_items_and_names_the_widest_spread(
        make_config, autojump_clock):
    """Five 一般 negative posts in no incident: one line with their count and the three that
    spread most (reposts + comments), widest first; the 较大 item stays in the list above."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG, RULES), harness,
                              start_epoch=at(10)) as daemon:
        for n, spread in enumerate((3, 40, 0, 12, 7)):
            harness.post(f"m{n}", f"六处学校拖欠教师工资 #{n}", "家长反映", reposts=spread,
                         comments=1)
        harness.post("f1", "六处学校食堂疑似食物中毒", "多名学生送医")
        await sleep_until(daemon, at(20, 1))
        day = daemon.store.kept_report("duty", "2026-05-10/白班")
    text = day["markdown"]
    title = "六处学校拖欠教师工资 \\#"  # Markdown escapes the titles' #
    assert (f"\n另有一般负面信息 5 条（未生成事件），传播最广的：{title}1（forum，转评 41）；"
            f"{title}3（forum，转评 13）；{title}4（forum，转评 8）。\n") in text
    assert "【较大】六处学校食堂疑似食物中毒" in text
    assert "另有一般负面信息 5 条" in day["html"]
