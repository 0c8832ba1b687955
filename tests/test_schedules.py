"""Schedule expressions for rules and reports: parsing, next fire times, pydantic type."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pydantic
import pytest

from yuqingd.located import load_yaml, validation_errors
from yuqingd.schema_types import STRICT
from yuqingd.time.schedules import Schedule, ScheduleExpr, parse_schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _chinese_messages(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")


def at(*args: int, tz: ZoneInfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def fires(text: str, moment: dt.datetime, count: int = 1, zone: str = "Asia/Shanghai") -> list:
    """The next ``count`` fire times after ``moment``, as ISO strings with their offsets."""
    schedule = parse_schedule(text, zone)
    out = []
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment.isoformat())
    return out


def error(text: str) -> str:
    with pytest.raises(ValueError) as info:
        parse_schedule(text)
    return str(info.value)


# --- daily ---------------------------------------------------------------------------------------


def test_daily_fires_later_the_same_day():
    """daily 08:00 asked at 07:59 fires at 08:00 that day."""
    assert fires("daily 08:00", at(2024, 1, 1, 7, 59)) == ["2024-01-01T08:00:00+08:00"]


def test_daily_at_fire_time_gives_next_day():
    """Asked exactly at 08:00, daily 08:00 next fires at 08:00 the next day."""
    assert fires("daily 08:00", at(2024, 1, 1, 8, 0)) == ["2024-01-02T08:00:00+08:00"]


def test_daily_just_after_fire_time_gives_next_day():
    """Asked a microsecond after 08:00, daily 08:00 next fires the next day."""
    moment = at(2024, 1, 1, 8, 0).replace(microsecond=1)
    assert fires("daily 08:00", moment) == ["2024-01-02T08:00:00+08:00"]


def test_daily_chinese_forms_match_english():
    """每天 08:00 and 每日 8:00 fire when daily 08:00 does."""
    moment = at(2024, 1, 1, 12, 0)
    expected = fires("daily 08:00", moment, 3)
    assert fires("每天 08:00", moment, 3) == expected
    assert fires("每日8:00", moment, 3) == expected


def test_daily_accepts_full_width_colon_and_digits():
    """每天 ０８：００ typed with a Chinese input method is 08:00."""
    assert fires("每天 ０８：００", at(2024, 1, 1, 7, 0)) == ["2024-01-01T08:00:00+08:00"]


# --- weekly --------------------------------------------------------------------------------------


def test_weekly_english_names_are_case_insensitive_and_may_be_short():
    """monday, Monday, MON, mon and every monday all mean Monday."""
    moment = at(2024, 1, 2, 12, 0)  # a Tuesday
    for text in ("monday 09:00", "Monday 09:00", "MON 09:00", "mon 09:00", "every monday 09:00"):
        assert fires(text, moment) == ["2024-01-08T09:00:00+08:00"], text


def test_weekly_chinese_forms_mean_the_weekday():
    """每周三, 周三, 星期三 and 每星期三 all fire on Wednesday."""
    moment = at(2024, 1, 1, 12, 0)  # a Monday
    for text in ("每周三 09:00", "周三 09:00", "星期三 09:00", "每星期三 09:00"):
        assert fires(text, moment) == ["2024-01-03T09:00:00+08:00"], text


def test_weekly_sunday_forms_all_fire_on_sunday():
    """sunday, sun, 每周日, 周日, 星期日 and 星期天 all fire on Sunday."""
    moment = at(2024, 1, 1, 12, 0)  # a Monday
    for text in ("sunday 10:00", "sun 10:00", "每周日 10:00", "周日 10:00", "星期日 10:00"):
        assert fires(text, moment) == ["2024-01-07T10:00:00+08:00"], text
    assert fires("星期天 10:00", moment) == ["2024-01-07T10:00:00+08:00"]


def test_weekly_at_fire_time_gives_next_week():
    """Asked at Monday 09:00, monday 09:00 next fires a week later."""
    assert fires("每周一 09:00", at(2024, 1, 1, 9, 0)) == ["2024-01-08T09:00:00+08:00"]


def test_weekdays_skip_the_weekend():
    """weekdays 08:30 after Friday's run fires on Monday, then Tuesday."""
    expected = ["2024-01-08T08:30:00+08:00", "2024-01-09T08:30:00+08:00"]
    assert fires("weekdays 08:30", at(2024, 1, 5, 8, 30), 2) == expected
    assert fires("工作日 08:30", at(2024, 1, 5, 8, 30), 2) == expected


def test_weekdays_fire_monday_to_friday_only():
    """A week of weekdays 08:30 is exactly Monday to Friday."""
    days = [dt.date.fromisoformat(t[:10]) for t in fires("weekdays 08:30", at(2024, 1, 1), 10)]
    assert {d.weekday() for d in days} == {0, 1, 2, 3, 4}
    assert days[4] == dt.date(2024, 1, 5) and days[5] == dt.date(2024, 1, 8)


# --- monthly -------------------------------------------------------------------------------------


def test_monthly_31_fires_on_the_last_day_of_shorter_months():
    """monthly 31 09:00 fires on Jan 31, Feb 29 (leap year), Mar 31 and Apr 30."""
    assert fires("monthly 31 09:00", at(2024, 1, 15), 4) == [
        "2024-01-31T09:00:00+08:00",
        "2024-02-29T09:00:00+08:00",
        "2024-03-31T09:00:00+08:00",
        "2024-04-30T09:00:00+08:00",
    ]


def test_monthly_at_fire_time_gives_next_month():
    """Asked at Dec 1 09:00, monthly 1 09:00 next fires on Jan 1 of the next year."""
    assert fires("monthly 1 09:00", at(2024, 12, 1, 9, 0)) == ["2025-01-01T09:00:00+08:00"]


def test_monthly_chinese_forms_match_english():
    """每月1日 09:00 and 每月 1 号 09:00 fire when monthly 1 09:00 does."""
    moment = at(2024, 1, 15)
    expected = fires("monthly 1 09:00", moment, 3)
    assert expected[0] == "2024-02-01T09:00:00+08:00"
    assert fires("每月1日 09:00", moment, 3) == expected
    assert fires("每月 1 号 09:00", moment, 3) == expected


# --- every ---------------------------------------------------------------------------------------


def test_every_is_aligned_to_the_start_of_the_day():
    """every 2h asked at 09:17 fires at 10:00, 12:00 — not 11:17."""
    expected = ["2024-01-01T10:00:00+08:00", "2024-01-01T12:00:00+08:00"]
    assert fires("every 2h", at(2024, 1, 1, 9, 17), 2) == expected


def test_every_at_fire_time_gives_the_next_slot():
    """Asked exactly at 08:00, every 30m next fires at 08:30."""
    assert fires("every 30m", at(2024, 1, 1, 8, 0)) == ["2024-01-01T08:30:00+08:00"]


def test_every_restarts_at_midnight():
    """every 90m fires at 22:30 and then 00:00 the next day."""
    expected = ["2024-01-01T22:30:00+08:00", "2024-01-02T00:00:00+08:00"]
    assert fires("every 1h30m", at(2024, 1, 1, 22, 0), 2) == expected


def test_every_chinese_forms_match_english():
    """每2小时 and 每30分钟 fire when every 2h and every 30m do."""
    moment = at(2024, 1, 1, 9, 17)
    assert fires("每2小时", moment, 3) == fires("every 2h", moment, 3)
    assert fires("每 30 分钟", moment, 3) == fires("every 30m", moment, 3)


def test_every_rejects_an_interval_that_does_not_divide_a_day():
    """every 7h is rejected, saying the interval must divide a day."""
    assert "间隔须能整除一天" in error("every 7h")


def test_every_rejects_intervals_longer_than_a_day():
    """every 2d is rejected and points to daily/monday/monthly instead."""
    message = error("every 2d")
    assert "最长 24h" in message and "monday 09:00" in message


def test_every_rejects_intervals_under_a_minute():
    """every 30s is rejected."""
    assert "至少 1 分钟" in error("every 30s")


def test_every_rejects_a_malformed_duration():
    """every soon is rejected with duration examples."""
    assert "every 2h" in error("every soon")


# --- cron ----------------------------------------------------------------------------------------


def test_cron_fires_at_the_expression_times():
    """0 9 * * 1 fires on Mondays at 09:00; asked at that moment it gives the next Monday."""
    assert fires("0 9 * * 1", at(2024, 1, 2)) == ["2024-01-08T09:00:00+08:00"]
    assert fires("0 9 * * 1", at(2024, 1, 8, 9, 0)) == ["2024-01-15T09:00:00+08:00"]


def test_cron_steps_and_ranges():
    """*/15 8-9 * * 1-5 fires every quarter hour in the 8 and 9 o'clock hours on weekdays."""
    assert fires("*/15 8-9 * * 1-5", at(2024, 1, 5, 9, 40), 3) == [
        "2024-01-05T09:45:00+08:00",
        "2024-01-08T08:00:00+08:00",
        "2024-01-08T08:15:00+08:00",
    ]


def test_cron_day_of_month_or_day_of_week_like_debian_cron():
    """0 9 1 * 1 fires on the 1st of the month and on every Monday."""
    assert fires("0 9 1 * 1", at(2024, 3, 26), 3) == [
        "2024-04-01T09:00:00+08:00",  # a Monday and the 1st: once
        "2024-04-08T09:00:00+08:00",
        "2024-04-15T09:00:00+08:00",
    ]


def test_cron_rejects_the_wrong_number_of_fields():
    """Four or six fields are rejected, naming the five expected."""
    assert "5 个字段" in error("0 9 * *")
    assert "5 个字段" in error("0 0 9 * * 1")


def test_cron_rejects_an_out_of_range_field_naming_it():
    """0 24 * * * is rejected as a bad hour field."""
    assert "小时字段无效" in error("0 24 * * *")
    assert "分钟字段无效" in error("60 9 * * *")


# --- time zones and daylight saving time ---------------------------------------------------------


def test_next_after_accepts_a_moment_in_any_zone_and_answers_in_the_schedule_zone():
    """A UTC moment gets a fire time expressed in Asia/Shanghai."""
    moment = dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.UTC)  # 08:30 in Shanghai
    assert fires("daily 08:00", moment) == ["2024-01-02T08:00:00+08:00"]


def test_next_after_rejects_a_naive_datetime():
    """A datetime without a zone is refused rather than guessed."""
    with pytest.raises(ValueError):
        parse_schedule("daily 08:00").next_after(dt.datetime(2024, 1, 1))


def test_at_zone_evaluates_the_same_text_in_another_zone():
    """daily 08:00 re-zoned to Europe/Berlin fires at 08:00 Berlin time; the original is kept."""
    shanghai = parse_schedule("daily 08:00")
    berlin = shanghai.at_zone("Europe/Berlin")
    moment = at(2023, 12, 31, 23, 0, tz=dt.UTC)  # 07:00 in Shanghai, 00:00 in Berlin
    assert berlin.next_after(moment).isoformat() == "2024-01-01T08:00:00+01:00"
    assert shanghai.next_after(moment).isoformat() == "2024-01-01T08:00:00+08:00"
    assert (berlin.zone, berlin.text) == ("Europe/Berlin", "daily 08:00")
    assert shanghai.zone == "Asia/Shanghai"


def test_parse_schedule_rejects_an_unknown_zone():
    """An unknown zone name is a Chinese error, not a ZoneInfo exception."""
    with pytest.raises(ValueError, match="未知时区"):
        parse_schedule("daily 08:00", "Asia/Beijing")


def test_dst_daily_keeps_wall_time_across_spring_forward():
    """In Berlin, daily 09:00 stays at 09:00 local over the spring-forward night."""
    assert fires("daily 09:00", at(2024, 3, 30, 12, tz=BERLIN), 2, "Europe/Berlin") == [
        "2024-03-31T09:00:00+02:00",
        "2024-04-01T09:00:00+02:00",
    ]


def test_dst_skipped_time_fires_when_the_clocks_jump():
    """daily 02:30 fires at 03:00 CEST on the night 02:00–03:00 does not exist."""
    assert fires("daily 02:30", at(2024, 3, 30, 12, tz=BERLIN), 2, "Europe/Berlin") == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]


def test_dst_repeated_time_fires_once():
    """daily 02:30 fires once, in the first pass, on the night 02:00–03:00 happens twice."""
    assert fires("daily 02:30", at(2024, 10, 26, 12, tz=BERLIN), 2, "Europe/Berlin") == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]


def test_dst_repeated_time_asked_in_the_second_pass_waits_for_the_next_day():
    """Asked at 02:10 CET in the repeated hour, daily 02:30 (already run) fires the next day."""
    moment = dt.datetime(2024, 10, 27, 1, 10, tzinfo=dt.UTC)  # 02:10 CET, second pass
    assert fires("daily 02:30", moment, 1, "Europe/Berlin") == ["2024-10-28T02:30:00+01:00"]
    assert fires("30 2 * * *", moment, 1, "Europe/Berlin") == ["2024-10-28T02:30:00+01:00"]


def test_dst_every_keeps_real_time_rhythm_when_clocks_go_back():
    """every 1h fires once every real hour through the repeated hour."""
    assert fires("every 1h", at(2024, 10, 27, 1, 30, tz=BERLIN), 4, "Europe/Berlin") == [
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T04:00:00+01:00",
    ]


def test_dst_every_keeps_real_time_rhythm_when_clocks_go_forward():
    """every 30m goes from 01:30 CET to 03:00 CEST: thirty real minutes."""
    assert fires("every 30m", at(2024, 3, 31, 1, 10, tz=BERLIN), 3, "Europe/Berlin") == [
        "2024-03-31T01:30:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:30:00+02:00",
    ]


def test_dst_every_follows_clocks_going_back_over_midnight():
    """Goose Bay (2010) went back from 00:01 to 23:01: every 30m fires at 23:30 the day before."""
    moment = dt.datetime(2010, 11, 7, 3, 0, 30, tzinfo=dt.UTC)  # 00:00:30 ADT, first pass
    assert fires("every 30m", moment, 2, "America/Goose_Bay") == [
        "2010-11-06T23:30:00-04:00",
        "2010-11-07T00:00:00-04:00",
    ]


def test_dst_cron_skipped_time_fires_when_the_clocks_jump():
    """30 2 * * * fires at 03:00 CEST on the spring-forward night, like daily 02:30."""
    assert fires("30 2 * * *", at(2024, 3, 30, 12, tz=BERLIN), 2, "Europe/Berlin") == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]


# --- errors --------------------------------------------------------------------------------------


def test_parse_schedule_suggests_a_misspelt_weekday():
    """'mondy 09:00' is rejected with a did-you-mean 'monday' and examples."""
    assert error("mondy 09:00") == (
        "无法识别的时间计划 'mondy 09:00'（是否想写 'monday'？）"
        "（示例: daily 08:00, monday 09:00, 每周一 09:00, every 2h, 0 9 * * 1）"
    )


def test_parse_schedule_suggests_misspelt_keywords():
    """'dialy' suggests daily, 'wendesday' suggests wednesday, 'evry' suggests every."""
    assert "是否想写 'daily'" in error("dialy 08:00")
    assert "是否想写 'wednesday'" in error("wendesday 08:00")
    assert "是否想写 'every'" in error("evry 2h")


def test_parse_schedule_rejects_an_unknown_chinese_weekday():
    """每周八 is rejected, listing the Chinese weekday names."""
    assert "无法识别的星期 '八'" in error("每周八 09:00")


def test_parse_schedule_rejects_hours_and_minutes_out_of_range():
    """25:00 and 08:60 are rejected with the allowed range."""
    assert "小时超出范围（0–23）" in error("daily 25:00")
    assert "分钟超出范围（0–59）" in error("每周一 08:60")


def test_parse_schedule_requires_a_time_of_day():
    """monday without a time is rejected, asking for HH:MM."""
    assert "HH:MM" in error("monday")


def test_parse_schedule_rejects_a_day_of_month_out_of_range():
    """monthly 32 and 每月0日 are rejected."""
    assert "日期超出范围（1–31）" in error("monthly 32 09:00")
    assert "日期超出范围（1–31）" in error("每月0日 09:00")


def test_parse_schedule_rejects_empty_and_non_string_input():
    """An empty string and a number are rejected with examples."""
    assert "不能为空" in error("   ")
    assert "应为字符串" in error(750)  # type: ignore[arg-type]


# --- text, equality, description -----------------------------------------------------------------


def test_schedule_keeps_the_text_as_written():
    """text and str() give back exactly what the rule file said."""
    schedule = parse_schedule("  Monday 09:00")
    assert schedule.text == "  Monday 09:00" and str(schedule) == "  Monday 09:00"


def test_schedule_is_frozen_and_compares_by_text_and_zone():
    """Schedules are immutable values, equal when text and zone are."""
    schedule = parse_schedule("daily 08:00")
    assert schedule == parse_schedule("daily 08:00")
    assert schedule != parse_schedule("daily 08:00", "Europe/Berlin")
    assert hash(schedule) == hash(parse_schedule("daily 08:00"))
    with pytest.raises(AttributeError):
        schedule.text = "daily 09:00"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("daily 08:00", "每天 08:00（Asia/Shanghai）"),
        ("monday 09:00", "每周一 09:00（Asia/Shanghai）"),
        ("星期天 9:05", "每周日 09:05（Asia/Shanghai）"),
        ("weekdays 08:30", "每周一至周五 08:30（不含节假日调整，Asia/Shanghai）"),
        ("every 2h", "每 2 小时（自每天 00:00 起，Asia/Shanghai）"),
        ("every 1h30m", "每 1 小时 30 分钟（自每天 00:00 起，Asia/Shanghai）"),
        ("monthly 1 09:00", "每月1日 09:00（Asia/Shanghai）"),
        ("每月31日 09:00", "每月31日 09:00（无此日的月份在月末最后一天，Asia/Shanghai）"),
        ("0  9 * * 1", "按 cron 表达式 0 9 * * 1（Asia/Shanghai）"),
    ],
)
def test_describe_zh_reads_as_policy_staff_would_say_it(text, described):
    """describe_zh gives the Chinese wording and the zone."""
    assert parse_schedule(text).describe_zh() == described


def test_describe_zh_names_the_zone_the_schedule_runs_in():
    """A schedule re-zoned to Europe/Berlin says so."""
    assert parse_schedule("每周一 09:00", "Europe/Berlin").describe_zh() == (
        "每周一 09:00（Europe/Berlin）"
    )


# --- pydantic ------------------------------------------------------------------------------------


class Report(pydantic.BaseModel):
    model_config = STRICT
    schedule: ScheduleExpr


def test_schedule_expr_validates_a_string_into_a_schedule():
    """A model field typed ScheduleExpr holds a Schedule parsed from the string."""
    report = Report.model_validate({"schedule": "每周一 09:00"})
    assert isinstance(report.schedule, Schedule)
    moment = at(2024, 1, 1, 8, 0)
    assert report.schedule.next_after(moment).isoformat() == "2024-01-01T09:00:00+08:00"


def test_schedule_expr_serialises_back_to_the_text():
    """model_dump and JSON give the schedule text as written."""
    report = Report.model_validate({"schedule": "Monday 09:00"})
    assert report.model_dump() == {"schedule": "Monday 09:00"}
    assert report.model_dump_json() == '{"schedule":"Monday 09:00"}'


def test_schedule_expr_takes_the_zone_from_validation_context():
    """Validated with context {'timezone': 'Europe/Berlin'}, the schedule runs in Berlin."""
    report = Report.model_validate(
        {"schedule": "daily 08:00"}, context={"timezone": "Europe/Berlin"}
    )
    assert report.schedule.zone == "Europe/Berlin"
    assert Report.model_validate({"schedule": "daily 08:00"}).schedule.zone == "Asia/Shanghai"


def test_schedule_expr_accepts_a_schedule_object():
    """A Schedule built in code passes through unchanged."""
    schedule = parse_schedule("daily 08:00", "Europe/Berlin")
    assert Report(schedule=schedule).schedule is schedule


def test_schedule_expr_reports_the_chinese_message_at_the_yaml_position(tmp_path):
    """A misspelt schedule in a YAML file is reported at file:line:col with the hint."""
    path = tmp_path / "report.yaml"
    path.write_text("# weekly report\nschedule: mondy 09:00\n", encoding="utf-8")
    doc = load_yaml(path)
    with pytest.raises(pydantic.ValidationError) as info:
        Report.model_validate(doc.data)
    [located] = validation_errors(info.value, doc, Report)
    assert str(located) == (
        f"{path}:2:11: 无法识别的时间计划 'mondy 09:00'（是否想写 'monday'？）"
        "（示例: daily 08:00, monday 09:00, 每周一 09:00, every 2h, 0 9 * * 1）"
    )


def test_schedule_expr_json_schema_is_a_described_string_with_examples():
    """The JSON Schema for editors is a string with a description and examples that all parse."""
    schema = pydantic.TypeAdapter(ScheduleExpr).json_schema()
    assert schema["type"] == "string"
    assert "cron" in schema["description"]
    assert schema["examples"]
    for example in schema["examples"]:
        parse_schedule(example)
    field = Report.model_json_schema()["properties"]["schedule"]
    assert field["type"] == "string" and field["examples"] == schema["examples"]
