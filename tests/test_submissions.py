"""Sub-units' submissions (旗县区信息周报 by Monday 12:00) on trio's virtual clock: on time, late,
missed with reminder and escalation, recorded; and the config errors policy staff see. The
daemon starts Sunday 2026-05-10 10:00 +08:00."""

from __future__ import annotations

import re

import pytest
import trio
import yaml

from yuqingd.config import ConfigFile, load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.runtime.roster import DutySpec
from yuqingd.testing import Harness, running_daemon

from .conftest import CONFIG, REPO

MINUTE, HOUR = 60, 3600
START = 1_778_378_400.0  # Sunday 2026-05-10 10:00 +08:00
MONDAY = START + 24 * HOUR - 10 * HOUR  # Monday 2026-05-11 00:00 +08:00

SUBMISSIONS = CONFIG + """\
duty:
  people:
    刘芳: {{channels: [duty-phone]}}
submissions:
  - name: 旗县区信息周报
    units:
      - A旗
      - B区
      - name: C县
        contacts: [刘芳]
    due: "0 12 * * MON"
    remind_before: 2h
    escalate: [值班员, 办公室主任]
    escalate_every: 1h
"""


def sent(harness: Harness) -> list[tuple[str, int, list[str]]]:
    """What people were told about expectations (duty reports at shift ends left out)."""
    return [(n.kind, n.level, [r.person for r in n.to]) for n in told(harness)]


def told(harness: Harness) -> list:
    """The notifications about expectations: the duty reports at shift ends are left out."""
    return [n for n in harness.sent if not n.kind.startswith("report.")]


async def submit(daemon, unit: str, by: str = "张明", **args) -> dict:
    """What ``yuqingd submit --unit UNIT --by NAME`` sends over the control socket."""
    return await daemon.handle({"command": "submit", "unit": unit, "by": by, **args})


def records(daemon, day: str = "2026-05-11") -> dict[str, dict]:
    return {row["role"]: dict(row) for row in daemon.store.expectations("submission")
            if row["subject"].endswith(day)}


async def sleep_until(daemon, epoch: float) -> None:
    await trio.sleep(epoch - daemon.clock.time())


async def test_submission_met_by_some_units_and_missed_by_another(make_config, autojump_clock):
    """A旗 submits in time (no reminder); B区 late, after the duty officer was told; C县 never:
    its contact is reminded at 10:00, the officer told at 12:00, the director at 13:00, and the
    miss is recorded. The next Monday's period is open for every unit."""
    harness = Harness()
    events: list[dict] = []
    async with running_daemon(make_config(SUBMISSIONS), harness, start_epoch=START) as daemon:
        daemon.events.subscribe(events.append)
        await sleep_until(daemon, MONDAY + 9 * HOUR)
        reply = await submit(daemon, "A旗", note="第19周")
        assert reply["ok"] and not reply["late"]
        assert reply["subject"] == "旗县区信息周报/A旗/2026-05-11"
        await sleep_until(daemon, MONDAY + 10 * HOUR + MINUTE)
        assert sorted(sent(harness)) == [("expectation.reminded", 1, ["刘芳"]),
                                         ("expectation.reminded", 1, ["张明"])]
        assert "B区 报送旗县区信息周报，截止 2026-05-11T12:00:00+08:00" in "".join(
            n.text for n in told(harness))
        await sleep_until(daemon, MONDAY + 12 * HOUR + 30 * MINUTE)
        reply = await submit(daemon, "B区")
        assert reply["ok"] and reply["late"]
        await sleep_until(daemon, MONDAY + 15 * HOUR)

        c_county = [s for s, n in zip(sent(harness), told(harness), strict=True)
                    if "C县" in n.title]
        assert c_county == [("expectation.reminded", 1, ["刘芳"]),
                            ("expectation.escalated", 2, ["张明"]),
                            ("expectation.escalated", 3, ["李华"])]
        assert not [n for n in told(harness) if "A旗" in n.title]
        b_district = [n.kind for n in told(harness) if "B区" in n.title]
        assert b_district == ["expectation.reminded", "expectation.escalated", "expectation.met"]

        rows = records(daemon)
        assert {unit: (r["state"], r["missed_at"] is not None, r["met_by"])
                for unit, r in rows.items()} == {
            "A旗": ("met", False, "张明"), "B区": ("met", True, "张明"),
            "C县": ("missed", True, None)}
        assert rows["C县"]["missed_who"] == "刘芳"
        (missed_b, missed_c) = [e for e in events if e["event"] == "expectation.missed"]
        assert (missed_b["role"], missed_c["role"]) == ("B区", "C县")
        assert missed_c["at"] == MONDAY + 12 * HOUR
        assert sorted(records(daemon, "2026-05-18")) == ["A旗", "B区", "C县"]
        assert {r["state"] for r in records(daemon, "2026-05-18").values()} == {"pending"}


async def test_submission_for_an_unknown_unit_is_refused(make_config, autojump_clock):
    """A unit that is not declared is refused with the declared ones (and a did-you-mean)."""
    async with running_daemon(make_config(SUBMISSIONS), Harness(), start_epoch=START) as daemon:
        reply = await submit(daemon, "A")
        assert not reply["ok"] and "没有单位 'A'" in reply["error"] and "A旗、B区、C县" in (
            reply["error"])
        reply = await submit(daemon, "A旗", what="月报")
        assert not reply["ok"] and "未定义的报送 '月报'" in reply["error"]


async def test_submission_due_while_down_is_escalated_once_at_start(make_config, autojump_clock):
    """Down from Sunday 11:00 to Monday 12:30: the period is still owed, but each late unit
    gets one message at start, the step due now (the duty officer told), not the 10:00
    reminder as well; a restart repeats nothing; the 13:00 step comes once; a submission then
    tells only those who were told."""
    harness = Harness()
    path = make_config(SUBMISSIONS)
    async with running_daemon(path, harness, start_epoch=START):
        await trio.sleep(HOUR)
    async with running_daemon(path, harness, start_epoch=MONDAY + 12.5 * HOUR):
        await trio.sleep(MINUTE)
    async with running_daemon(path, harness, start_epoch=MONDAY + 12.6 * HOUR) as daemon:
        await trio.sleep(MINUTE)
        assert sent(harness) == [("expectation.escalated", 2, ["张明"])] * 3
        assert {r["state"] for r in records(daemon).values()} == {"missed"}
        await sleep_until(daemon, MONDAY + 13 * HOUR + MINUTE)
        assert sent(harness)[3:] == [("expectation.escalated", 3, ["李华"])] * 3
        assert len({n.id for n in told(harness)}) == 6
        reply = await submit(daemon, "C县")
        assert reply["ok"] and reply["late"]
        await trio.sleep(MINUTE)
        (met,) = [n for n in told(harness) if n.kind == "expectation.met"]
        assert sorted(p.person for p in met.to) == ["张明", "李华"]  # not 刘芳: not reminded


async def test_submission_removed_and_put_back_does_not_replay_the_gap(make_config,
                                                                        autojump_clock):
    """The submission is taken out of the config on Sunday and put back on Tuesday 2026-05-19
    (reloads): the period of 2026-05-18, due while it was absent, is not opened; the next
    one (2026-05-25) is."""
    path = make_config(SUBMISSIONS)
    async with running_daemon(path, Harness(), start_epoch=START) as daemon:
        await trio.sleep(HOUR)
        text = path.read_text(encoding="utf-8")
        path.write_text(text[:text.index("submissions:")], encoding="utf-8")
        assert await daemon.reload(), daemon.reload_errors
        await sleep_until(daemon, MONDAY + 8 * 24 * HOUR + 10 * HOUR)
        path.write_text(text, encoding="utf-8")
        assert await daemon.reload(), daemon.reload_errors
        await trio.sleep(HOUR)
        assert records(daemon, "2026-05-18") == {}
        assert {r["state"] for r in records(daemon, "2026-05-25").values()} == {"pending"}
        assert len(records(daemon, "2026-05-25")) == 3


def test_submission_config_errors_name_file_and_line(make_config):
    """An unknown role, an unknown contact and a bad schedule are reported at their lines."""
    bad = (SUBMISSIONS.replace("escalate: [值班员, 办公室主任]", "escalate: [值班员, 办公室主人]")
           .replace("contacts: [刘芳]", "contacts: [刘芬]")
           .replace('"0 12 * * MON"', '"monday 25:00"'))
    path = make_config(bad)
    with pytest.raises(ConfigError) as caught:
        load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    errors = [str(e) for e in caught.value.errors]
    lines = path.read_text(encoding="utf-8").splitlines()
    schedule_line = next(i for i, line in enumerate(lines, 1) if "monday 25:00" in line)
    assert any(f"yuqingd.yaml:{schedule_line}:" in e and "小时超出范围" in e for e in errors)
    assert len(errors) == 1  # the schedule error stops validation of the section
    path = make_config(bad.replace('"monday 25:00"', '"monday 12:00"'))
    with pytest.raises(ConfigError) as caught:
        load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    errors = [str(e) for e in caught.value.errors]
    role_line = next(i for i, line in enumerate(lines, 1) if "escalate:" in line)
    contact_line = next(i for i, line in enumerate(lines, 1) if "contacts:" in line)
    assert any(f"yuqingd.yaml:{role_line}:" in e and "未定义的角色 '办公室主人'" in e
               and "办公室主任" in e for e in errors)
    assert any(f"yuqingd.yaml:{contact_line}:" in e and "未登记的人员 '刘芬'" in e
               for e in errors)


def test_docs_duty_examples_are_valid_config():
    """Each YAML example in docs/duty.md is a valid part of the config file."""
    text = (REPO / "docs/duty.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) == 3
    for block in blocks:
        data = yaml.safe_load(block)
        ConfigFile.model_validate({k: v for k, v in data.items() if k != "duty"})
        if "duty" in data:
            DutySpec.model_validate(data["duty"])
