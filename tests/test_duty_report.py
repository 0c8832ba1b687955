"""The duty report (值班报告) at each shift end, on trio's virtual clock with a real store:
made once per shift, in the shape offices write by hand, delivered to the incoming officer and
the leader, kept, and never sent twice across restarts."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import trio

from yuqingd import cli, commands
from yuqingd.testing import Harness, running_daemon

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 5, 10, tzinfo=TZ)  # a Sunday; 白班 08:00–20:00, 夜班 20:00–08:00


def at(hour: int, minute: int = 0) -> float:
    return (DAY + dt.timedelta(hours=hour, minutes=minute)).timestamp()


RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
  topics:
    食品安全: {keywords: [食物中毒], severity: 较大}
  negative_words: [食物中毒, 拖欠]
  positive_words: [表彰, 点赞]
chains:
  major:
    - {notify: 值班员, ack_within: 1h}
rules:
  - id: food
    title: 食品安全舆情
    match: {topic: 食品安全}
    then:
      incident: {severity: 较大, chain: major}
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
roles:
  办公室主任: {{person: 孙强, channels: [phone]}}
duty:
  people:
    张明: {{channels: [phone]}}
    赵丽: {{channels: [phone]}}
    李华: {{channels: [phone]}}
  shifts:
    - {{name: 白班, start: "08:00", length: 12h}}
    - {{name: 夜班, start: "20:00", length: 12h}}
  roster:
    rotation:
      start: 2026-05-10
      roles:
        值班员: {{白班: [张明], 夜班: [赵丽]}}
        带班领导: [李华]
"""


async def sleep_until(daemon, epoch: float) -> None:
    await daemon.clock.sleep_until(epoch)
    await trio.sleep(0.01)  # let delivery run


def duty_reports(harness: Harness) -> list:
    return [n for n in harness.sent if n.kind == "report.duty"]


async def test_duty_report_at_shift_end_is_kept_and_sent_to_incoming_and_leader(
        make_config, autojump_clock):
    """At 20:00 the day shift's report lists the major negative item and its incident, says
    no positive item was found, carries the handover note and the officer, and goes to the
    night officer and the leader."""
    harness = Harness()
    path = make_config(CONFIG, RULES)
    async with running_daemon(path, harness, start_epoch=at(10)) as daemon:
        harness.post("f1", "六处学校食堂疑似食物中毒", "多名学生送医")
        harness.post("n1", "县教育局召开工作会议")
        await sleep_until(daemon, at(19))
        reply = commands.perform(daemon.core, "handover",
                                 {"by": "张明", "note": "食物中毒事件待续报"}, daemon.clock.time())
        assert reply == {"ok": True, "shift": "2026-05-10/白班",
                         "until": "2026-05-10T20:00:00+08:00", "on_roster": True}
        assert duty_reports(harness) == []
        await sleep_until(daemon, at(20, 1))

        (sent,) = duty_reports(harness)
        assert {(r.role, r.person) for r in sent.to} == {("值班员", "赵丽"), ("带班领导", "李华")}
        kept = daemon.store.kept_report("duty", "2026-05-10/白班")
        text = kept["markdown"]
        assert sent.text == text
        assert "2026-05-10T08:00:00+08:00 至 2026-05-10T20:00:00+08:00" in text
        assert "【较大】六处学校食堂疑似食物中毒" in text
        (incident,) = daemon.store.incidents()
        assert f"事件：{incident.id}" in text and "食品安全舆情" in text
        assert "本班次未发现值得关注的正面信息" in text
        assert "食物中毒事件待续报" in text
        assert "值班员 张明" in text and "带班领导 李华" in text
        assert "| forum | 2 | 1 |" in text
        assert "<html" in kept["html"] and "食物中毒事件待续报" in kept["html"]
        assert daemon.store.kept_report("duty", "2026-05-10/夜班") is None


async def test_duty_report_due_while_down_is_made_at_start_and_never_resent(
        make_config, autojump_clock):
    """A shift that ended while yuqingd was down is reported at the next start, once; later
    restarts send nothing again."""
    path = make_config(CONFIG, RULES)
    first = Harness()
    async with running_daemon(path, first, start_epoch=at(10)) as daemon:
        first.post("p1", "六处学校教师获表彰，家长点赞")
        await sleep_until(daemon, at(19, 30))
    assert duty_reports(first) == []

    second = Harness()
    async with running_daemon(path, second, start_epoch=at(21)) as daemon:
        await sleep_until(daemon, at(21, 5))
        (sent,) = duty_reports(second)
        assert "六处学校教师获表彰" in sent.text
        # One list entry: its source line, then its link, no blank line between.
        assert re.search(r"- 来源：[^\n]+\n   - 链接：<https://forum\.example/t/p1>", sent.text)
        assert "本班次未发现较大及以上负面舆情信息" in sent.text
        assert {r.person for r in sent.to} == {"赵丽", "李华"}

    third = Harness()
    async with running_daemon(path, third, start_epoch=at(21, 30)) as daemon:
        await sleep_until(daemon, at(23))
        assert duty_reports(third) == []
        rows = daemon.store.db.execute("SELECT period FROM reports WHERE kind='duty'").fetchall()
        assert [r[0] for r in rows] == ["2026-05-10/白班"]


async def test_no_duty_report_without_a_duty_section(make_config, autojump_clock):
    """Without a roster there are no shifts, so no shift-end reports."""
    harness = Harness()
    config = CONFIG.split("duty:")[0].replace(
        "办公室主任: {{person: 孙强, channels: [phone]}}",
        "值班员: {{person: 张明, channels: [phone]}}")
    async with running_daemon(make_config(config, RULES), harness, start_epoch=at(10)) as daemon:
        await sleep_until(daemon, at(10) + 2 * 86400)
        assert duty_reports(harness) == []
        assert daemon.store.db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


SCHEDULED = RULES + """\
  - id: duty-digest
    title: 值班报告抄送
    schedule: "每天 08:30"
    then: {report: duty, notify: {role: 办公室主任}}
"""


async def test_scheduled_duty_report_sends_the_last_shifts_kept_report(make_config,
                                                                        autojump_clock):
    """`then.report: duty` on a schedule rule sends the report of the last shift that ended
    (kept at its end, not made again) to the rule's notify roles."""
    harness = Harness()
    path = make_config(CONFIG, SCHEDULED)
    async with running_daemon(path, harness, start_epoch=at(10)) as daemon:
        await sleep_until(daemon, at(21))
        harness.post("f2", "六处学校夜间又有学生食物中毒")
        await sleep_until(daemon, at(24 + 8, 31))
        by_office = [n for n in duty_reports(harness) if n.to[0].person == "孙强"]
        (copy,) = by_office
        assert copy.rule == "duty-digest"
        kept = daemon.store.kept_report("duty", "2026-05-10/夜班")
        assert copy.text == kept["markdown"] and "六处学校夜间又有学生食物中毒" in copy.text
        assert kept["created_at"] == at(24 + 8)  # made at the shift end, not at 08:30
        assert len(duty_reports(harness)) == 3  # 白班, 夜班 at their ends, and the copy


async def test_scheduled_duty_report_without_roster_covers_the_previous_day(make_config,
                                                                            autojump_clock):
    """Without a `duty:` section a scheduled duty report covers the previous calendar day."""
    harness = Harness()
    config = CONFIG.split("duty:")[0] + "  值班员: {{person: 张明, channels: [phone]}}\n"
    async with running_daemon(make_config(config, SCHEDULED), harness,
                              start_epoch=at(10)) as daemon:
        harness.post("f1", "六处学校食堂疑似食物中毒")
        await sleep_until(daemon, at(24 + 8, 31))
        (sent,) = duty_reports(harness)
        kept = daemon.store.kept_report("duty", "2026-05-10")
        assert sent.text == kept["markdown"]
        assert "2026-05-10T00:00:00+08:00 至 2026-05-11T00:00:00+08:00" in sent.text
        assert "未配置值班表" in sent.text and "六处学校食堂疑似食物中毒" in sent.text


async def test_report_duty_cli_reads_the_kept_reports_without_a_daemon(make_config,
                                                                      autojump_clock, capsys):
    """`yuqingd report duty --shift DAY[/NAME]` reads kept reports from the state database
    when no daemon runs; a day names all its shifts."""
    path = make_config(CONFIG, RULES)
    async with running_daemon(path, Harness(), start_epoch=at(10)) as daemon:
        await commands_handover(daemon, "张明", "白班交接：无异常")
        await sleep_until(daemon, at(24 + 9))
        day, night = (daemon.store.kept_report("duty", f"2026-05-10/{n}")["markdown"]
                      for n in ("白班", "夜班"))

    def report(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("YUQINGD_PLUGINS", "tests.harness_plugin")
            code = cli.main(["report", "duty", *args, "--config", str(path)])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert report("--shift", "2026-05-10/白班") == (0, day, "")
    code, out, _ = report("--shift", "2026-05-10")
    assert code == 0 and out.index(day) < out.index(night)
    assert "白班交接：无异常" in day and "白班交接：无异常" not in night
    code, _, err = report("--shift", "2026-05-10/早班")
    assert code == 1 and "没有名为 '早班' 的班次" in err
    # A shift still to come has no report, and is not shown as a finished one.
    code, out, err = report("--shift", "2099-01-01/白班")
    assert code == 1 and out == ""
    assert "2099-01-01/白班 尚未开始（2099-01-01T08:00:00+08:00 开始）" in err


async def commands_handover(daemon, by: str, note: str) -> None:
    reply = commands.perform(daemon.core, "handover", {"by": by, "note": note}, daemon.clock.time())
    assert reply["ok"], reply


def test_duty_report_text_from_outside_is_inert_and_long_reports_are_cut(tmp_path):
    """A hostile title renders as text (escaped in HTML, inert in Markdown, no javascript:
    link); a notification carries at most MAX_TEXT characters and says where the rest is."""
    from yuqingd.model import Enrichment, Item
    from yuqingd.reports.duty import collect_duty, render_duty
    from yuqingd.reports.periods import of_day
    from yuqingd.runtime.reports import MAX_TEXT, notification_text
    from yuqingd.store.sqlite import Store
    from yuqingd.time.clock import Clock

    store = Store(tmp_path / "yuqingd.sqlite3")
    try:
        item = Item("forum", "x1", "<script>alert(1)</script>家长质疑收费",
                    url="javascript:alert(1)")
        enrichment = Enrichment((), "negative", 0.0, (), "", severity="重大")
        store.add_item(item, enrichment, "", at(10), store.add_story(0, item.title, at(10)))
        period = of_day(DAY.date(), TZ)
        markdown, html = render_duty(collect_duty(store, period, sources=["forum"]),
                                     Clock("Asia/Shanghai"))
    finally:
        store.close()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;家长质疑收费" in html and "<script>" not in html
    assert "\\<script\\>alert(1)\\</script\\>家长质疑收费" in markdown
    assert "javascript:" not in markdown and "javascript:" not in html

    long = markdown + "\n".join(f"- 第 {n} 行" for n in range(2000))
    cut = notification_text(long, period)
    assert len(cut) < MAX_TEXT + 100 and cut.startswith(markdown[:100])
    assert cut.endswith("yuqingd report duty --shift 2026-05-10 查看）\n")
    assert notification_text(markdown, period) == markdown


LATE_REPORT_RULES = RULES.replace(
    "    - {notify: 值班员, ack_within: 1h}\n",
    "    - {notify: 值班员, ack_within: 1h}\n    - {notify: 办公室主任, ack_within: 1h}\n"
    "deadlines:\n  较大: {first_report: 1h}\n")


async def test_duty_report_tells_the_handling_in_chinese(make_config, autojump_clock):
    """Acknowledged under a silence, then no first report within 1h: the shift's report says
    the first report was overdue and the incident went to 办公室主任 (not that nobody
    acknowledged), in Chinese throughout, and sums up the withheld notifications in a line."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG, LATE_REPORT_RULES), harness,
                              start_epoch=at(10)) as daemon:
        silenced = await daemon.handle({"command": "silence.add", "rule": "food",
                                        "for": "10m", "reason": "演练", "by": "张明"})
        assert silenced["ok"], silenced
        harness.post("f1", "六处学校食堂疑似食物中毒", "多名学生送医")
        await sleep_until(daemon, at(10, 5))
        (incident,) = daemon.store.incidents()
        acked = await daemon.handle({"command": "ack", "incident": incident.id, "by": "张明"})
        assert acked["ok"], acked
        await sleep_until(daemon, at(20, 1))
        markdown = daemon.store.kept_report("duty", "2026-05-10/白班")["markdown"]
        html = daemon.store.kept_report("duty", "2026-05-10/白班")["html"]
    handling = markdown[markdown.index("## 四"):markdown.index("## 五")]
    steps = [line.strip() for line in handling.splitlines() if line.startswith("  - 2026")]
    assert "- 2026-05-10T11:00:00+08:00 系统 首报逾期，升级（第 2 级：办公室主任）" in steps
    assert "首报逾期，升级（第 2 级：办公室主任）" in html
    assert "超时未确认" not in markdown and "超时未确认" not in html
    assert "- 本班次另有 2 条事件通知因静默未发出" in handling
    assert [s for s in steps if re.search("[A-Za-z]{2,}", s)] == []
    assert "silence=" not in html and "notification." not in html
