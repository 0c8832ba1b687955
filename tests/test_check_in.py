"""The duty check-in (值班签到), roster gap warnings, and their survival across restarts, on
trio's virtual clock. The daemon starts Sunday 2026-05-10 10:00 +08:00; the shift of Monday
2026-05-11 starts at 08:00 with 赵丽 as 值班员, who must check in by 08:30."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys

import trio
from structlog.testing import capture_logs

from yuqingd.commands import incidents as view
from yuqingd.config import load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.simulate import parse_inputs, parse_time, simulate
from yuqingd.testing import Harness, running_daemon

from .conftest import RULES
from .service.configs import write_setup
from .service.process import DaemonProcess

MINUTE, HOUR = 60, 3600
START = 1_778_378_400.0  # 2026-05-10 10:00 +08:00
MONDAY_0800 = START + 22 * HOUR

CONFIG = """\
timezone: Asia/Shanghai
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
notifiers:
  - name: phone
    kind: capture
roles:
  办公室主任:
    person: 孙强
    channels: [phone]
  组长:
    person: 王强
    channels: [phone]
duty:
  people:
    张明: {channels: [phone]}
    赵丽: {channels: [phone]}
    李华: {channels: [phone]}
  roster:
    rotation:
      start: 2026-05-10
      roles:
        值班员: [张明, 赵丽]
        带班领导: [李华]
  check_in_within: 30m
  check_in_escalate: [带班领导, 办公室主任]
  check_in_escalate_every: 30m
"""

# Staffing: 两会 (2026-05-13) needs two officers; the roster has one. Warned 2 days ahead.
GAPS = CONFIG + """\
  staffing:
    - key_dates: [两会]
      roles: {值班员: 2}
  warn_ahead: 2d
  gaps_notify: [办公室主任]
"""
GAP_RULES = RULES + """\
calendar:
  - {name: 两会, dates: ["2026-05-13"]}
"""


def cli(*args):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=60)


def sent(harness: Harness) -> list[tuple[str, int, list[str]]]:
    """What people were told about expectations (duty reports at shift ends left out)."""
    return [(n.kind, n.level, [r.person for r in n.to]) for n in told(harness)]


def told(harness: Harness) -> list:
    """The notifications about expectations: the duty reports at shift ends are left out."""
    return [n for n in harness.sent if not n.kind.startswith("report.")]


def record(daemon) -> dict:
    (row,) = daemon.store.expectations("check_in")
    return dict(row)


async def sleep_until(daemon, epoch: float) -> None:
    await trio.sleep(epoch - daemon.clock.time())


async def check_in(daemon, by: str) -> dict:
    """What ``yuqingd check-in --by NAME`` sends over the control socket."""
    return await daemon.handle({"command": "check_in", "by": by})


async def test_check_in_in_time_sends_no_reminder(make_config, autojump_clock):
    """The officer who checks in within the time allowed is neither reminded nor reported."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG), harness, start_epoch=START) as daemon:
        await sleep_until(daemon, MONDAY_0800 + 10 * MINUTE)
        reply = await check_in(daemon, "赵丽")
        assert reply["ok"] and reply["subject"] == "2026-05-11/全天/赵丽" and not reply["late"]
        await sleep_until(daemon, MONDAY_0800 + 4 * HOUR)
        assert sent(harness) == []
        row = record(daemon)
        assert (row["state"], row["met_by"], row["missed_at"]) == ("met", "赵丽", None)


async def test_check_in_by_someone_not_on_duty_is_refused(make_config, autojump_clock):
    """Checking in for a shift one is not on says, in Chinese, who is on duty."""
    async with running_daemon(make_config(CONFIG), Harness(), start_epoch=START) as daemon:
        await sleep_until(daemon, MONDAY_0800 + 5 * MINUTE)
        reply = await check_in(daemon, "张明")
        assert not reply["ok"]
        assert "张明 不是当前班次" in reply["error"] and "当前值班员：赵丽" in reply["error"]
        assert record(daemon)["state"] == "pending"


async def test_missed_check_in_reminds_then_escalates_and_records_who(make_config,
                                                                      autojump_clock):
    """No check-in by 08:30: 赵丽 is reminded at 08:30, the leader on duty told at 09:00, the
    office director at 09:30; the miss is recorded against 赵丽. Her late check-in stops the
    ladder and tells those who were told."""
    harness = Harness()
    events: list[dict] = []
    async with running_daemon(make_config(CONFIG), harness, start_epoch=START) as daemon:
        daemon.events.subscribe(events.append)
        await sleep_until(daemon, MONDAY_0800 + 29 * MINUTE)
        assert sent(harness) == []
        await sleep_until(daemon, MONDAY_0800 + 31 * MINUTE)
        assert sent(harness) == [("expectation.reminded", 1, ["赵丽"])]
        assert "yuqingd check-in --by 赵丽" in told(harness)[0].text
        assert "2026-05-11T08:30:00+08:00" in told(harness)[0].text
        reminder = told(harness)[0]  # the same, structured, for a card notifier
        assert [(d.kind, d.label, d.at) for d in reminder.deadlines] == [
            ("check_in", "签到", "2026-05-11T08:30:00+08:00")]
        assert [(a.name, a.command) for a in reminder.actions] == [
            ("check_in", "yuqingd check-in --by 赵丽")]
        await sleep_until(daemon, MONDAY_0800 + 95 * MINUTE)
        assert sent(harness)[1:] == [("expectation.escalated", 2, ["李华"]),
                                     ("expectation.escalated", 3, ["孙强"])]
        assert "值班员 赵丽 未在" in told(harness)[1].text
        assert told(harness)[1].actions == () and len(told(harness)[1].deadlines) == 1
        row = record(daemon)
        assert (row["state"], row["missed_who"]) == ("missed", "赵丽")
        (missed,) = [e for e in events if e["event"] == "expectation.missed"]
        assert (missed["what"], missed["role"], missed["who"], missed["at"]) == (
            "check_in", "值班员", "赵丽", MONDAY_0800 + 30 * MINUTE)

        reply = await check_in(daemon, "赵丽")
        assert reply["ok"] and reply["late"]
        await trio.sleep(MINUTE)
        met = [n for n in told(harness) if n.kind == "expectation.met"]
        assert sorted(p.person for n in met for p in n.to) == ["孙强", "李华", "赵丽"]
        row = record(daemon)
        assert (row["state"], row["met_by"], row["missed_who"]) == ("met", "赵丽", "赵丽")
        await sleep_until(daemon, MONDAY_0800 + 6 * HOUR)
        assert len(told(harness)) == 3 + len(met)


async def test_check_in_due_while_down_is_acted_on_at_start_once(make_config, autojump_clock):
    """The daemon is down from Sunday 11:00 to Monday 09:05: at start the missed check-in is
    recorded (as due while the service was down) and 赵丽 is reminded, once (the 09:00
    escalation is not sent in the same breath); the rest of the ladder keeps its spacing from
    then (李华 09:35, 孙强 10:05), each once, however often the daemon restarts."""
    harness = Harness()
    path = make_config(CONFIG)
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        await trio.sleep(HOUR)
    assert sent(harness) == []
    async with running_daemon(path, harness, start_epoch=MONDAY_0800 + 65 * MINUTE) as daemon:
        await trio.sleep(10 * MINUTE)
        assert sent(harness) == [("expectation.reminded", 1, ["赵丽"])]
        # 赵丽 could not check in while nothing listened: recorded, not held against her.
        assert record(daemon)["missed_who"] == "赵丽"
        (miss,) = daemon.store.misses(0.0, float("inf"))
        assert (miss.who, miss.counts, miss.reason) == ("赵丽", False, "daemon_down")
    async with running_daemon(path, harness, start_epoch=MONDAY_0800 + 80 * MINUTE) as daemon:
        await sleep_until(daemon, MONDAY_0800 + 94 * MINUTE)
        assert len(sent(harness)) == 1
        await sleep_until(daemon, MONDAY_0800 + 130 * MINUTE)
        assert sent(harness)[1:] == [("expectation.escalated", 2, ["李华"]),
                                     ("expectation.escalated", 3, ["孙强"])]
        (row,) = daemon.store.expectations()
        assert row["level"] == 3 and row["next_at"] is None
        outbox = daemon.store.db.execute(
            "SELECT count(*) FROM outbox WHERE id NOT LIKE 'report:%'").fetchone()[0]
        assert outbox == 3


async def test_check_in_outage_across_shifts_expects_only_the_current_one(make_config,
                                                                          autojump_clock):
    """Down from Sunday 11:00 to Thursday 10:00: the shifts that ended meanwhile are recorded
    as not expected (daemon down), nobody is told about them; Thursday's officer 张明 is
    reminded once, and his ladder goes on from 10:00. A restart repeats nothing."""
    harness = Harness()
    path = make_config(CONFIG)
    thursday = MONDAY_0800 + 3 * 24 * HOUR
    async with running_daemon(path, harness, start_epoch=START):
        await trio.sleep(HOUR)
    with capture_logs() as logs:
        async with running_daemon(path, harness, start_epoch=thursday + 2 * HOUR) as daemon:
            await trio.sleep(MINUTE)
            assert sent(harness) == [("expectation.reminded", 1, ["张明"])]
            rows = {r["subject"]: dict(r) for r in daemon.store.expectations("check_in")}
            assert {s: (r["state"], r["missed_at"] is None, r["next_at"]) for s, r in rows.items()
                    } == {"2026-05-11/全天/赵丽": ("skipped", True, None),
                          "2026-05-12/全天/张明": ("skipped", True, None),
                          "2026-05-13/全天/赵丽": ("skipped", True, None),
                          "2026-05-14/全天/张明": ("missed", False, thursday + 150 * MINUTE)}
            assert "服务停止" in rows["2026-05-11/全天/赵丽"]["note"]
    assert sorted(e["subject"] for e in logs if e["event"] == "expectation.skipped") == [
        "2026-05-11/全天/赵丽", "2026-05-12/全天/张明", "2026-05-13/全天/赵丽"]
    async with running_daemon(path, harness, start_epoch=thursday + 2 * HOUR + 10 * MINUTE
                              ) as daemon:
        await sleep_until(daemon, thursday + 4 * HOUR)
        assert sent(harness)[1:] == [("expectation.escalated", 2, ["李华"]),
                                     ("expectation.escalated", 3, ["孙强"])]
        reply = await check_in(daemon, "张明")
        assert reply["ok"] and reply["late"]
        assert not (await check_in(daemon, "赵丽"))["ok"]  # Monday is over: nothing to clear


async def test_check_in_duty_removed_and_put_back_does_not_replay_the_gap(make_config,
                                                                          autojump_clock):
    """`duty:` is removed on Sunday and put back on Wednesday at 09:00 (reloads): nothing is
    expected for the shifts in between; Thursday's shift is expected as usual."""
    harness = Harness()
    path = make_config(CONFIG)
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        await trio.sleep(HOUR)
        text = path.read_text(encoding="utf-8")
        no_duty = text[:text.index("duty:")].replace(  # the rules still name 值班员
            "roles:\n", "roles:\n  值班员:\n    person: 孙强\n    channels: [phone]\n")
        path.write_text(no_duty, encoding="utf-8")
        assert await daemon.reload(), daemon.reload_errors
        await sleep_until(daemon, MONDAY_0800 + 2 * 24 * HOUR + HOUR)
        path.write_text(text, encoding="utf-8")
        assert await daemon.reload()
        await sleep_until(daemon, MONDAY_0800 + 3 * 24 * HOUR + 10 * MINUTE)
        assert sent(harness) == []
        assert [r["subject"] for r in daemon.store.expectations("check_in")] == [
            "2026-05-14/全天/张明"]
        await sleep_until(daemon, MONDAY_0800 + 3 * 24 * HOUR + 31 * MINUTE)
        assert sent(harness) == [("expectation.reminded", 1, ["张明"])]


SWAP = ("    swaps:\n      - {date: 2026-05-11, from: 赵丽, to: 张明}\n"
        "  check_in_within: 30m")


async def swap_at(daemon, path, epoch: float) -> None:
    """赵丽 calls in sick; at ``epoch`` the office swaps 张明 in and reloads."""
    await sleep_until(daemon, epoch)
    text = path.read_text(encoding="utf-8").replace("  check_in_within: 30m", SWAP)
    path.write_text(text, encoding="utf-8")
    assert await daemon.reload(), daemon.reload_errors


async def test_check_in_by_stand_in_covers_the_swapped_out_officer(make_config, autojump_clock):
    """A swap made at 08:10, after the shift began: 张明's check-in also clears 赵丽's
    (met by 张明, noted as a stand-in); nobody is reminded or told she did not check in."""
    harness = Harness()
    path = make_config(CONFIG)
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        await swap_at(daemon, path, MONDAY_0800 + 10 * MINUTE)
        reply = await check_in(daemon, "张明")
        assert reply["ok"] and not reply["late"] and reply["stood_in_for"] == ["赵丽"]
        await sleep_until(daemon, MONDAY_0800 + 3 * HOUR)
        assert sent(harness) == []
        rows = {r["who"]: dict(r) for r in daemon.store.expectations("check_in")}
        assert {w: (r["state"], r["met_by"], r["missed_at"]) for w, r in rows.items()} == {
            "赵丽": ("met", "张明", None), "张明": ("met", "张明", None)}
        assert "由张明替班签到" in rows["赵丽"]["note"]


async def test_check_in_after_swap_reminds_the_stand_in_not_the_absent(make_config,
                                                                       autojump_clock):
    """A swap at 08:10 and nobody checks in: 张明 (the stand-in) is reminded and reported,
    赵丽 is neither reminded nor reported nor recorded as missing; 张明's late check-in clears
    both and tells those who were told."""
    harness = Harness()
    path = make_config(CONFIG)
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        await swap_at(daemon, path, MONDAY_0800 + 10 * MINUTE)
        await sleep_until(daemon, MONDAY_0800 + 95 * MINUTE)
        assert sent(harness) == [("expectation.reminded", 1, ["张明"]),
                                 ("expectation.escalated", 2, ["李华"]),
                                 ("expectation.escalated", 3, ["孙强"])]
        assert all("赵丽" not in n.text for n in told(harness))
        rows = {r["who"]: dict(r) for r in daemon.store.expectations("check_in")}
        assert (rows["赵丽"]["state"], rows["赵丽"]["missed_at"]) == ("pending", None)
        assert rows["张明"]["missed_who"] == "张明"
        reply = await check_in(daemon, "张明")
        assert reply["ok"] and reply["late"] and reply["stood_in_for"] == ["赵丽"]
        await trio.sleep(MINUTE)
        rows = {r["who"]: dict(r) for r in daemon.store.expectations("check_in")}
        assert {r["state"] for r in rows.values()} == {"met"}
        assert [n.kind for n in told(harness)][3:] == ["expectation.met"]


async def test_gap_warning_is_sent_once(make_config, autojump_clock):
    """The roster has one officer on 两会 (Wednesday), which needs two: the office director is
    warned on Monday, two days ahead, once, however often the day is checked or the daemon
    restarts."""
    harness = Harness()
    path = make_config(GAPS, GAP_RULES)
    events: list[dict] = []
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        daemon.events.subscribe(events.append)
        await trio.sleep(HOUR)
        assert sent(harness) == []  # Sunday: Wednesday is three days off
        await sleep_until(daemon, MONDAY_0800 - 7 * HOUR)  # Monday 01:00
        assert [(k, to) for k, _, to in sent(harness)] == [("duty.gap", ["孙强"])]
        assert "2026-05-13 全天 值班员 需 2 人（两会）" in told(harness)[0].text
        await sleep_until(daemon, MONDAY_0800 + 26 * HOUR)
    (gap,) = [e for e in events if e["event"] == "duty.gap"]
    assert (gap["day"], gap["role"], gap["required"], gap["assigned"]) == (
        "2026-05-13", "值班员", 2, ["赵丽"])
    async with running_daemon(path, harness, start_epoch=MONDAY_0800 + 30 * HOUR):
        await trio.sleep(HOUR)
    assert [n.kind for n in told(harness)].count("duty.gap") == 1


def test_simulate_check_in_lines_go_through_the_command(make_config):
    """`yuqingd simulate` action lines check in like the CLI: a simulation that starts at the
    shift start expects that shift's officer; Monday's 赵丽 checks in late, Tuesday's 张明 in
    time, and 李华 (not an officer) is refused."""
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(make_config(CONFIG), plugins)
    lines = [{"at": "2026-05-11T08:00:00+08:00", "action": "check_in", "by": "李华"},
             {"at": "2026-05-11T08:45:00+08:00", "action": "check_in", "by": "赵丽"},
             {"at": "2026-05-12T08:05:00+08:00", "action": "check_in", "by": "张明"}]
    out = simulate(config, plugins, parse_inputs([json.dumps(line) for line in lines]),
                   until=parse_time("2026-05-12T12:00:00+08:00"))
    shown = [(r["at"][11:16], r["event"], r.get("subject") or r.get("message", "")[:9])
             for r in out if r["event"] not in ("notification", "report")]
    assert shown == [
        ("08:00", "error", "李华 不是当前班次"),
        ("08:30", "expectation.missed", "2026-05-11/全天/赵丽"),
        ("08:30", "expectation.reminded", "2026-05-11/全天/赵丽"),
        ("08:45", "expectation.met", "2026-05-11/全天/赵丽"),
        ("08:05", "expectation.met", "2026-05-12/全天/张明"),
    ]


def test_cli_check_in_and_submit_talk_to_the_running_daemon(tmp_path, short_dir):
    """`yuqingd check-in` and `yuqingd submit` reach the daemon over its control socket and
    answer in Chinese; a refusal exits 1 and names who is on duty."""
    config = write_setup(tmp_path, short_dir / "control.sock")
    with config.open("a", encoding="utf-8") as f:
        f.write(CLI_DUTY)
    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wrong = cli("check-in", "--by", "张明", "--config", str(config))
        assert wrong.returncode == 1 and "当前值班员：王芳" in wrong.stderr
        right = cli("check-in", "--by", "王芳", "--note", "已到岗", "--config", str(config))
        assert right.returncode == 0, right.stderr
        assert right.stdout.startswith("签到成功：") and "/全天/王芳" in right.stdout
        again = cli("check-in", "--by", "王芳", "--config", str(config))
        assert again.returncode == 0 and again.stdout.startswith("已于 ")
        sub = cli("submit", "--unit", "A旗", "--by", "张明", "--config", str(config))
        assert sub.returncode == 0, sub.stderr
        assert sub.stdout.startswith("已记录按时报送：旗县区信息周报/A旗/")
        unknown = cli("submit", "--unit", "Z旗", "--by", "张明", "--config", str(config))
        assert unknown.returncode == 1 and "没有单位 'Z旗'" in unknown.stderr
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()


CLI_DUTY = """\
duty:
  people:
    王芳: {channels: [alerts]}
  roster:
    rotation:
      start: 2020-01-01
      roles:
        值班员: [王芳]
submissions:
  - name: 旗县区信息周报
    units: [A旗, B区]
    due: "0 12 * * MON"
"""


async def test_reload_refuses_removing_a_role_a_pending_check_in_ladder_needs(make_config,
                                                                             autojump_clock):
    """Monday's check-in is overdue and will climb to 办公室主任: a reload that removes that
    role (and its mention in check_in_escalate) is refused, not silently left to reach nobody."""
    harness = Harness()
    path = make_config(CONFIG)
    async with running_daemon(path, harness, start_epoch=START) as daemon:
        await sleep_until(daemon, MONDAY_0800 + 35 * MINUTE)
        assert sent(harness) == [("expectation.reminded", 1, ["赵丽"])]
        text = path.read_text(encoding="utf-8")
        text = text.replace("  办公室主任:\n    person: 孙强\n    channels: [phone]\n", "")
        path.write_text(text.replace("[带班领导, 办公室主任]", "[带班领导]"), encoding="utf-8")
        rules = path.parent / "rules.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace(
            "    - {notify: 办公室主任, ack_within: 30m}\n", ""), encoding="utf-8")
        assert not await daemon.reload()
        assert "办公室主任" in daemon.reload_errors[0]
        assert "2026-05-11/全天/赵丽" in daemon.reload_errors[0]
        await sleep_until(daemon, MONDAY_0800 + 95 * MINUTE)
        assert sent(harness)[-1] == ("expectation.escalated", 3, ["孙强"])


async def test_missed_check_in_is_in_the_duty_report_and_the_record_of_an_open_incident(
        make_config, autojump_clock, monkeypatch, capsys):
    """赵丽 misses her 08:30 check-in while an incident is open: the miss is one record (held
    against her), listed among the shift's missed obligations in its duty report and in the
    incident's record beside the incident's own missed ack."""
    harness = Harness()
    config = CONFIG.replace("rules: [rules.yaml]\n", "rules: [rules.yaml]\nsources:\n"
                            "  - {name: forum, kind: scripted}\n")
    async with running_daemon(make_config(config), harness, start_epoch=START) as daemon:
        await sleep_until(daemon, MONDAY_0800 + 10 * MINUTE)
        for n in range(3):
            harness.post(f"neg-{n}", f"六处学校老师体罚学生 #{n}", "家长反映孩子被体罚")
        await trio.sleep(1)
        (incident,) = daemon.store.incidents()
        await sleep_until(daemon, MONDAY_0800 + 31 * MINUTE)
        (miss,) = [m for m in daemon.store.misses(START, MONDAY_0800 + HOUR)
                   if m.kind == "check_in"]
        assert (miss.role, miss.who, miss.counts, miss.due_at) == (
            "值班员", "赵丽", True, MONDAY_0800 + 30 * MINUTE)

        reply = await daemon.handle({"command": "incident", "incident": incident.id})
        assert [(m["kind"], m["holder"], m["during"], m["held"]) for m in reply["misses"]] == [
            ("ack", "第1级 值班员 赵丽", False, "计入问责"),
            ("check_in", "值班员 赵丽", True, "计入问责")]
        monkeypatch.setattr(view, "call", lambda args, payload: (0, reply))
        capsys.readouterr()
        assert view.cmd_incident(argparse.Namespace(incident=incident.id)) == 0
        out = capsys.readouterr().out.splitlines()
        shown = out[out.index("问责：") + 1:out.index("问责：") + 3]
        assert "「涉校负面信息集中出现」确认  第1级 值班员 赵丽  时限 2026-05-11T08:25" in shown[0]
        assert "（事件处置期间）  值班员 赵丽  时限 2026-05-11T08:30:00+08:00  计入问责" in shown[1]

        await sleep_until(daemon, MONDAY_0800 + 24 * HOUR + MINUTE)
        kept = daemon.store.kept_report("duty", "2026-05-11/全天")
        assert kept is not None
        section = kept.markdown.split("## 五、未按时完成事项")[1].split("## 六、交接班事项")[0]
        assert "值班签到：" in section and "责任人：值班员 赵丽；时限：2026-05-11T08:30:00+08:00" \
            in section
        assert f"事件 {incident.id}「涉校负面信息集中出现」确认" in section
        assert "<h2>五、未按时完成事项</h2>" in kept.html


async def test_check_in_due_while_down_is_listed_as_not_held_against_the_officer(
        make_config, autojump_clock):
    """A check-in that fell due while the daemon was down is recorded as a miss that does not
    count, and the duty report says why."""
    path = make_config(CONFIG)
    async with running_daemon(path, Harness(), start_epoch=START) as daemon:
        await trio.sleep(HOUR)
    async with running_daemon(path, Harness(), start_epoch=MONDAY_0800 + 65 * MINUTE) as daemon:
        await trio.sleep(MINUTE)
        (miss,) = daemon.store.misses(START, MONDAY_0800 + 2 * HOUR)
        assert (miss.kind, miss.who, miss.counts, miss.reason) == (
            "check_in", "赵丽", False, "daemon_down")
        await sleep_until(daemon, MONDAY_0800 + 24 * HOUR + MINUTE)
        kept = daemon.store.kept_report("duty", "2026-05-11/全天")
        assert "（计入问责 0 项）" in kept.markdown
        assert ("时限：2026-05-11T08:30:00+08:00（2026-05-11T09:05:00+08:00 补记）；"
                "不计入问责：到期时服务未运行") in kept.markdown
    # Restarts neither repeat nor lose the record.
    async with running_daemon(path, Harness(), start_epoch=MONDAY_0800 + 24 * HOUR + 2 * MINUTE
                              ) as daemon:
        await trio.sleep(MINUTE)
        assert len(daemon.store.misses(START, MONDAY_0800 + 25 * HOUR)) == 1
