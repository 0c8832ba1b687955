"""The duty roster: shifts, rotation, dates, swaps, staffing gaps, and the `duty:` errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic
import pytest

from yuqingd.located import load_yaml, validation_errors
from yuqingd.runtime.roster import DutySpec, Gap, Roster
from yuqingd.time.calendar import Calendar, KeyDateSpec

SHANGHAI = ZoneInfo("Asia/Shanghai")

DUTY = """\
duty:
  people:
    张明: {channels: [dingtalk-duty, mail]}
    李华: {channels: [mail]}
    王强: {channels: [mail]}
  shifts:
    - {name: 全天, start: "08:00", length: 24h}
  roster:
    rotation:
      start: 2026-11-02
      every: 1d
      roles:
        值班员: [张明, 李华]
        带班领导: [王强]
    dates:
      "2026-11-26": {值班员: 李华}
    swaps:
      - {date: 2026-11-28, from: 张明, to: 王强}
  staffing:
    - {key_dates: [高考, 国庆], roles: {值班员: 2, 带班领导: 1}}
  warn_ahead: 3d
  check_in_within: 30m
"""

TWO_SHIFTS = """\
duty:
  people:
    张明: {channels: [mail]}
    李华: {channels: [mail]}
    王强: {channels: [mail]}
    赵敏: {channels: [mail]}
  shifts:
    - {name: 白班, start: "08:00", length: 12h}
    - {name: 夜班, start: "20:00", length: 12h}
  roster:
    rotation:
      start: 2026-11-02
      roles:
        值班员: {白班: [张明, 李华], 夜班: [王强, 赵敏]}
        带班领导: [王强]
"""

CALENDAR = Calendar([
    KeyDateSpec.model_validate(
        {"name": "高考", "each_year": {"from": "06-07", "to": "06-10"}, "vigilance": "high"}
    ),
    KeyDateSpec.model_validate({"name": "国庆", "holiday": "国庆节", "vigilance": "high"}),
])


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "duty.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def spec(tmp_path: Path, text: str = DUTY) -> DutySpec:
    return DutySpec.model_validate(load_yaml(write(tmp_path, text)).data["duty"])


def roster(tmp_path: Path, text: str = DUTY) -> Roster:
    return Roster(spec(tmp_path, text), CALENDAR)


def errors(tmp_path: Path, text: str, **context) -> list[str]:
    """The located errors of the `duty:` section in ``text``, as 'file:line:col: message'."""
    doc = load_yaml(write(tmp_path, text))
    with pytest.raises(pydantic.ValidationError) as info:
        DutySpec.model_validate(doc.data["duty"], context=context)
    found = validation_errors(info.value, doc, DutySpec, prefix=("duty",))
    return [str(e).removeprefix(f"{doc.path}:") for e in found]


# shifts and rotation


def test_rotation_gives_each_role_its_turn_day_by_day(tmp_path):
    """值班员 alternates 张明, 李华, 张明 on successive duty days; 带班领导 is 王强 every day."""
    r = roster(tmp_path)
    assert r.on_duty(at("2026-11-02 08:00")) == {"值班员": ["张明"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-03 12:00")) == {"值班员": ["李华"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-04 23:59")) == {"值班员": ["张明"], "带班领导": ["王强"]}


def test_shift_at_0759_belongs_to_the_previous_duty_day(tmp_path):
    """At 07:59 the 08:00→08:00 shift that began the day before is still on; 08:00 starts anew."""
    r = roster(tmp_path)
    before = r.shift_at(at("2026-11-03 07:59"))
    assert (before.name, before.duty_day) == ("全天", day("2026-11-02"))
    assert (before.start, before.end) == (at("2026-11-02 08:00"), at("2026-11-03 08:00"))
    assert r.on_duty(at("2026-11-03 07:59"))["值班员"] == ["张明"]
    assert r.shift_at(at("2026-11-03 08:00")).duty_day == day("2026-11-03")
    assert r.on_duty(at("2026-11-03 08:00"))["值班员"] == ["李华"]


def test_rotation_holds_nobody_before_its_start(tmp_path):
    """The duty day before the rotation's start date has nobody on the roster."""
    assert roster(tmp_path).on_duty(at("2026-11-02 07:59")) == {}


def test_rotation_turn_lasts_every_whole_days(tmp_path):
    """With every: 7d a turn covers a week: 张明 for 11-02..11-08, 李华 from 11-09."""
    weekly = DUTY.replace("every: 1d", "every: 7d").replace("date: 2026-11-28", "date: 2026-11-16")
    r = roster(tmp_path, weekly)
    assert r.on_duty(at("2026-11-03 08:00"))["值班员"] == ["张明"]
    assert r.on_duty(at("2026-11-09 07:59"))["值班员"] == ["张明"]
    assert r.on_duty(at("2026-11-09 08:00"))["值班员"] == ["李华"]
    assert r.on_duty(at("2026-11-15 12:00"))["值班员"] == ["李华"]
    assert r.on_duty(at("2026-11-17 08:00"))["值班员"] == ["张明"]


def test_explicit_date_wins_over_rotation_for_its_roles_only(tmp_path):
    """2026-11-26 would be 张明's turn; the date gives 值班员 to 李华 and leaves 带班领导 alone."""
    r = roster(tmp_path)
    assert r.on_duty(at("2026-11-24 09:00"))["值班员"] == ["张明"]  # same parity as 11-26
    assert r.on_duty(at("2026-11-26 09:00")) == {"值班员": ["李华"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-27 07:59"))["值班员"] == ["李华"]
    assert r.on_duty(at("2026-11-28 07:59"))["值班员"] == ["李华"]  # 11-27 is 李华's own turn


def test_swap_gives_the_from_persons_places_to_the_other(tmp_path):
    """On 2026-11-28 (张明's turn) the swap puts 王强 in 张明's place; 11-30 is 张明's again."""
    r = roster(tmp_path)
    assert r.on_duty(at("2026-11-28 08:00")) == {"值班员": ["王强"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-29 07:59"))["值班员"] == ["王强"]
    assert r.on_duty(at("2026-11-30 08:00"))["值班员"] == ["张明"]


def test_two_shifts_split_the_duty_day_at_20_00(tmp_path):
    """白班 08:00–20:00 and 夜班 20:00–08:00 hold their own officers; 07:59 is still 夜班."""
    r = roster(tmp_path, TWO_SHIFTS)
    day_shift = r.shift_at(at("2026-11-02 19:59"))
    night = r.shift_at(at("2026-11-02 20:00"))
    assert (day_shift.name, day_shift.start, day_shift.end) == (
        "白班", at("2026-11-02 08:00"), at("2026-11-02 20:00"))
    assert (night.name, night.start, night.end) == (
        "夜班", at("2026-11-02 20:00"), at("2026-11-03 08:00"))
    assert r.shift_at(at("2026-11-03 07:59")) == night
    assert r.on_duty(at("2026-11-02 19:59")) == {"值班员": ["张明"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-02 20:00")) == {"值班员": ["王强"], "带班领导": ["王强"]}
    assert r.on_duty(at("2026-11-03 20:00")) == {"值班员": ["赵敏"], "带班领导": ["王强"]}


def test_handover_names_outgoing_and_incoming_holders(tmp_path):
    """At 20:00 the day officer 张明 hands over to 王强; at 08:00 王强 hands over to 李华."""
    r = roster(tmp_path, TWO_SHIFTS)
    night = r.shift_at(at("2026-11-02 20:00"))
    outgoing, incoming = r.handover(night)
    assert outgoing["值班员"] == ["张明"]
    assert incoming["值班员"] == ["王强"]
    morning = r.shift_at(at("2026-11-03 08:00"))
    assert r.handover(morning) == ({"值班员": ["王强"], "带班领导": ["王强"]},
                                   {"值班员": ["李华"], "带班领导": ["王强"]})


def test_shift_starts_between_excludes_after_and_includes_until(tmp_path):
    """Starts in (after, until]: from 08:00 to the next 08:00 that is 20:00 and 08:00."""
    r = roster(tmp_path, TWO_SHIFTS)
    starts = r.shift_starts_between(at("2026-11-02 08:00"), at("2026-11-03 08:00"))
    assert [(s.name, s.start) for s in starts] == [
        ("夜班", at("2026-11-02 20:00")), ("白班", at("2026-11-03 08:00"))]
    assert r.shift_starts_between(at("2026-11-02 08:00"), at("2026-11-02 19:59")) == []
    week = r.shift_starts_between(at("2026-11-02 07:00"), at("2026-11-09 07:00"))
    assert len(week) == 14
    assert r.check_in_due(starts[0]) == at("2026-11-02 20:30")


def test_shift_times_carry_the_shanghai_offset(tmp_path):
    """Shift boundaries print with +08:00, in winter and in summer (Asia/Shanghai has no DST)."""
    r = roster(tmp_path)
    assert str(r.shift_at(at("2026-11-02 09:00"))) == (
        "全天（2026-11-02 08:00+08:00 至 2026-11-03 08:00+08:00）")
    summer = r.shift_at(at("2027-07-01 12:00"))
    assert summer.period == "2027-07-01 08:00+08:00 至 2027-07-02 08:00+08:00"
    assert summer.end - summer.start == dt.timedelta(hours=24)


def test_shift_at_rejects_naive_times(tmp_path):
    """A time without a zone is refused rather than guessed."""
    with pytest.raises(ValueError, match="时区"):
        roster(tmp_path).shift_at(dt.datetime(2026, 11, 2, 9, 0))


# staffing


def test_gap_warning_for_gaokao_comes_three_days_ahead_and_not_earlier(tmp_path):
    """高考 (06-07) needs 2 值班员 and the rotation gives 1: warned from 06-04, not on 06-03."""
    r = roster(tmp_path)
    assert r.gap_warnings(day("2027-06-03")) == []
    warnings = r.gap_warnings(day("2027-06-04"))
    assert warnings == [Gap(day("2027-06-07"), "全天", "值班员", 2, ("李华",), ("高考",))]
    assert warnings[0].missing == 1
    assert str(warnings[0]) == (
        "2027-06-07 全天 值班员 需 2 人（高考），排班只有 1 人：李华，缺 1 人")
    assert [g.day for g in r.gap_warnings(day("2027-06-07"))] == [
        day("2027-06-07"), day("2027-06-08"), day("2027-06-09"), day("2027-06-10")]


def test_gaps_close_when_a_date_names_two_officers(tmp_path):
    """Two officers written for 2027-06-07 leave no gap that day; 06-08 still falls short."""
    text = DUTY.replace('"2026-11-26": {值班员: 李华}',
                        '"2026-11-26": {值班员: 李华}\n      "2027-06-07": {值班员: [张明, 李华]}')
    r = roster(tmp_path, text)
    assert r.gaps(day("2027-06-07")) == []
    assert [(g.role, len(g.assigned)) for g in r.gaps(day("2027-06-08"))] == [("值班员", 1)]
    assert r.gaps(day("2027-06-11")) == []  # no key date, no requirement


def test_gaps_count_a_rotation_team_as_several_people(tmp_path):
    """A rotation element written as a list is a team: [张明, 李华] meets 值班员: 2 on 高考."""
    r = roster(tmp_path, DUTY.replace("值班员: [张明, 李华]", "值班员: [[张明, 李华]]"))
    assert r.on_duty(at("2027-06-07 09:00"))["值班员"] == ["张明", "李华"]
    assert r.gaps(day("2027-06-07")) == []


# validation, located in the file


def test_duty_rejects_unknown_person_with_did_you_mean(tmp_path):
    """A name missing from people is reported where it is written, with the closest name."""
    text = DUTY.replace("值班员: [张明, 李华]", "值班员: [张明, 李华华]")
    assert errors(tmp_path, text) == [
        "13:19: 未登记的人员 '李华华'（是否想写 '李华'？）（人员须先写在 duty.people 中）"]


def test_duty_rejects_unknown_person_in_dates_and_swaps(tmp_path):
    """Unknown people in dates and in a swap's to are each located."""
    text = DUTY.replace("{值班员: 李华}", "{值班员: 李四}").replace("to: 王强", "to: 王刚")
    found = errors(tmp_path, text)
    assert found[0].startswith("16:27: 未登记的人员 '李四'")
    assert found[1].startswith("18:42: 未登记的人员 '王刚'（是否想写 '王强'？）")


def test_duty_rejects_swap_of_someone_not_on_duty_that_day(tmp_path):
    """2026-11-27 is 李华's turn, so a swap from 张明 that day is a mistake and is reported."""
    text = DUTY.replace("2026-11-28", "2026-11-27")
    assert errors(tmp_path, text) == [
        "18:34: '张明' 在 2026-11-27 值班日没有排班，无法换给 '王强'"]


@pytest.mark.parametrize(("night", "problem"), [
    ('{name: 夜班, start: "21:00", length: 11h}',
     "8:25: 班次 '夜班' 与上一班次 '白班' 之间有 1h 的空档"),
    ('{name: 夜班, start: "19:00", length: 13h}', "8:25: 班次 '夜班' 与上一班次 '白班' 重叠 1h"),
    ('{name: 夜班, start: "20:00", length: 11h}', "8:42: 最后一个班次 '夜班' 结束于 07:00"),
    ('{name: 夜班, start: "20:00", length: 13h}', "8:42: 各班次合计 25h，超过 24h"),
])
def test_duty_rejects_shifts_that_do_not_tile_the_day(tmp_path, night, problem):
    """Two shifts with a gap or an overlap between or around them are refused at the shift."""
    text = DUTY.replace('    - {name: 全天, start: "08:00", length: 24h}',
                        f'    - {{name: 白班, start: "08:00", length: 12h}}\n    - {night}')
    (found,) = errors(tmp_path, text)
    assert found.startswith(problem)


def test_duty_rejects_single_shift_shorter_than_a_day(tmp_path):
    """One shift must last 24h, or part of the day has nobody on duty."""
    text = DUTY.replace("length: 24h", "length: 12h")
    assert errors(tmp_path, text) == [
        "7:42: 只有一个班次时 length 应为 24h（班次须覆盖全天），写的是 12h"]


def test_duty_rejects_unquoted_start_time_with_a_hint(tmp_path):
    """YAML reads an unquoted 20:00 as 1200; the message says to quote it."""
    text = DUTY.replace('start: "08:00"', "start: 20:00")
    (found,) = errors(tmp_path, text)
    assert found.startswith("7:25: ")
    assert '请加引号写成 "20:00"' in found


@pytest.mark.parametrize("bad", ["36h", "12h"])
def test_duty_rejects_rotation_every_that_is_not_whole_days(tmp_path, bad):
    """every must be a whole number of days."""
    (found,) = errors(tmp_path, DUTY.replace("every: 1d", f"every: {bad}"))
    assert found.startswith("11:14: every 应为整天数")


def test_duty_rejects_unknown_field_with_did_you_mean(tmp_path):
    """A misspelt key in the section is located at the key and suggests the right one."""
    text = DUTY.replace("warn_ahead:", "warn_ahaed:")
    assert errors(tmp_path, text) == ["21:3: 未知字段 'warn_ahaed'（是否想写 'warn_ahead'？）"]


def test_duty_checks_channels_and_key_dates_when_told_them(tmp_path):
    """Given the notifier and key-date names, unknown channels and key dates are reported."""
    found = errors(tmp_path, DUTY, notifiers={"dingtalk-duty", "email"},
                   key_dates={"高考", "国庆节"})
    assert found == [
        "3:36: 未定义的通知渠道 'mail'（是否想写 'email'？）",
        "4:21: 未定义的通知渠道 'mail'（是否想写 'email'？）",
        "5:21: 未定义的通知渠道 'mail'（是否想写 'email'？）",
        "20:24: 未定义的重点日期 '国庆'（是否想写 '国庆节'？）"
        "（重点日期写在规则文件的 calendar 中）",
    ]


def test_duty_defaults_to_one_shift_from_08_00(tmp_path):
    """Without shifts:, one 全天 shift 08:00→08:00; warn_ahead 3d, check-in within 30m."""
    duty = DutySpec.model_validate({})
    assert [(s.name, s.start, s.length) for s in duty.shifts] == [("全天", "08:00", 86400)]
    assert (duty.warn_ahead, duty.check_in_within) == (3 * 86400, 1800)
    assert DutySpec.model_json_schema()["properties"]["shifts"]["type"] == "array"


def test_explicit_date_can_name_one_shift_only(tmp_path):
    """A date written per shift replaces the 夜班 officer and keeps the rotation's 白班 one."""
    text = TWO_SHIFTS + '    dates:\n      "2026-11-05": {值班员: {夜班: 李华}}\n'
    r = roster(tmp_path, text)
    assert r.on_duty(at("2026-11-05 09:00"))["值班员"] == ["李华"]  # the rotation's 白班 turn
    assert r.on_duty(at("2026-11-05 21:00"))["值班员"] == ["李华"]
    assert r.on_duty(at("2026-11-06 21:00"))["值班员"] == ["王强"]


def test_duty_rejects_unknown_shift_name_in_roster(tmp_path):
    """A per-shift role naming a shift that is not declared is located, with a suggestion."""
    text = TWO_SHIFTS.replace("夜班: [王强, 赵敏]", "晚班: [王强, 赵敏]")
    (found,) = errors(tmp_path, text)
    assert found.startswith("14:33: 未定义的班次 '晚班'")
    assert "已定义: 白班、夜班" in found


def test_staffing_without_key_dates_applies_every_day(tmp_path):
    """An entry with no key_dates requires its roles daily: the day before the rotation is short."""
    text = DUTY.replace("  staffing:\n", "  staffing:\n    - {roles: {值班员: 1}}\n")
    r = roster(tmp_path, text)
    assert r.gaps(day("2026-11-01")) == [Gap(day("2026-11-01"), "全天", "值班员", 1, (), ())]
    assert r.gaps(day("2026-11-02")) == []
    assert [(g.role, g.required, g.key_dates) for g in r.gaps(day("2027-06-07"))] == [
        ("值班员", 2, ("高考",))]


def test_duty_checks_role_names_when_told_them(tmp_path):
    """Given the config's roles, a role name the config lacks is located where it is used."""
    found = errors(tmp_path, DUTY, roles={"值班员", "带班领导人"})
    assert found[0].startswith("14:15: 配置中未定义角色 '带班领导'（是否想写 '带班领导人'？）")
    assert len(found) == 2  # rotation and staffing
