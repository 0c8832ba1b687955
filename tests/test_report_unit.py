"""The unit's name (``unit:``) heads every report: the duty report, the weekly briefing and
their notifications; without it the titles say 教育局 as before."""

from __future__ import annotations

import pytest

from yuqingd.config import ConfigError, load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.reports import periods
from yuqingd.runtime.reports import render
from yuqingd.store.sqlite import Store
from yuqingd.testing import Harness, running_daemon
from yuqingd.time.clock import Clock

from .test_duty_report import CONFIG, RULES, at, duty_reports, sleep_until

UNIT = "unit: 耒阳市教育局\n"


async def test_duty_report_title_names_the_configured_unit(make_config, autojump_clock):
    """With ``unit: 耒阳市教育局`` the shift's report and its notification are titled with it."""
    harness = Harness()
    path = make_config(UNIT + CONFIG, RULES)
    async with running_daemon(path, harness, start_epoch=at(10)) as daemon:
        await sleep_until(daemon, at(20, 1))
        (sent,) = duty_reports(harness)
        kept = daemon.store.kept_report("duty", "2026-05-10/白班")
        assert kept["markdown"].startswith("# 耒阳市教育局网络舆情值班报告\n")
        assert "<title>耒阳市教育局网络舆情值班报告" in kept["html"]
        assert sent.title == "耒阳市教育局值班报告（2026-05-10/白班）"


async def test_duty_report_title_without_a_unit_is_as_before(make_config, autojump_clock):
    """No ``unit:``: 教育局网络舆情值班报告, and the notification title is unchanged."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG, RULES), harness,
                              start_epoch=at(10)) as daemon:
        await sleep_until(daemon, at(20, 1))
        (sent,) = duty_reports(harness)
        kept = daemon.store.kept_report("duty", "2026-05-10/白班")
        assert kept["markdown"].startswith("# 教育局网络舆情值班报告\n")
        assert sent.title == "值班报告（2026-05-10/白班）"


def test_weekly_briefing_title_and_signature_name_the_unit(make_config, tmp_path):
    """The 信息周报 rendered for the config is headed and signed with the unit's name."""
    path = make_config(UNIT + CONFIG, RULES)
    config = load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    clock = Clock("Asia/Shanghai")
    store = Store(tmp_path / "w.sqlite3")
    try:
        markdown, html = render(store, config, clock, periods.weekly("2026-W47", clock.tz))
    finally:
        store.close()
    assert markdown.startswith("# 耒阳市教育局网络舆情信息周报（2026年第47周）")
    assert "\n耒阳市教育局　" in markdown and "<title>耒阳市教育局网络舆情信息周报" in html


@pytest.mark.parametrize("unit", ['""', '"耒阳市\\n教育局"', "'" + "县" * 41 + "'"])
def test_a_unit_that_cannot_head_a_report_is_rejected(make_config, tmp_path, unit):
    """An empty, multi-line or over-long ``unit:`` is a configuration error."""
    path = make_config(f"unit: {unit}\n" + CONFIG,
                       RULES)
    with pytest.raises(ConfigError):
        load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
