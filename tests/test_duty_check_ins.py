"""The duty report lists the shift's check-ins (issue 15): on time, late (with the time due) or
missed, on trio's virtual clock with a real store."""

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

