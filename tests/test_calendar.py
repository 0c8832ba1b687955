"""Key dates: each_year ranges, explicit dates, statutory holidays, lead/lag and vigilance."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

from yuqingd.located import load_yaml, validation_errors
from yuqingd.time import calendar as calendar_module
from yuqingd.time.calendar import ActiveKeyDate, Calendar, KeyDateSpec, holiday_names


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def calendar(*specs: dict) -> Calendar:
    return Calendar([KeyDateSpec.model_validate(s) for s in specs])


def names_on(cal: Calendar, text: str) -> list[str]:
    return [a.name for a in cal.active_on(day(text))]


def only(cal: Calendar, text: str) -> ActiveKeyDate:
    (active,) = cal.active_on(day(text))
    return active


def error_of(spec: dict) -> str:
    with pytest.raises(pydantic.ValidationError) as info:
        KeyDateSpec.model_validate(spec)
    return str(info.value)


GAOKAO = {"name": "高考", "each_year": {"from": "06-07", "to": "06-10"}, "vigilance": "high"}


def test_each_year_covers_its_range_in_every_year():
    """高考 06-07..06-10 is active on both end days and not on the days around, in any year."""
    cal = calendar(GAOKAO)
    for year in (2026, 2031):
        assert names_on(cal, f"{year}-06-07") == ["高考"]
        assert names_on(cal, f"{year}-06-10") == ["高考"]
        assert names_on(cal, f"{year}-06-06") == []
        assert names_on(cal, f"{year}-06-11") == []
    assert only(cal, "2026-06-08") == ActiveKeyDate(
        "高考", "high", day("2026-06-07"), day("2026-06-10")
    )


def test_each_year_wraps_over_new_year():
    """12-30..01-02 is one occurrence spanning the year end, found from either side of it."""
    cal = calendar({"name": "元旦前后", "each_year": {"from": "12-30", "to": "01-02"}})
    expected = ActiveKeyDate("元旦前后", "elevated", day("2026-12-30"), day("2027-01-02"))
    assert only(cal, "2026-12-31") == expected
    assert only(cal, "2027-01-02") == expected
    assert only(cal, "2026-01-01").first_day == day("2025-12-30")
    assert names_on(cal, "2027-01-03") == []
    assert names_on(cal, "2026-12-29") == []


def test_each_year_feb_29_falls_back_to_feb_28_in_common_years():
    """A range ending 02-29 ends on 02-28 in a common year and on 02-29 in a leap year."""
    cal = calendar({"name": "寒假", "each_year": {"from": "01-15", "to": "02-29"}})
    assert only(cal, "2027-02-28").last_day == day("2027-02-28")
    assert only(cal, "2028-02-29").last_day == day("2028-02-29")


def test_lead_and_lag_widen_each_occurrence():
    """lead 2d / lag 1d make 高考 active from 06-05 to 06-11, and no further."""
    cal = calendar({**GAOKAO, "lead": "2d", "lag": "1d"})
    assert names_on(cal, "2026-06-04") == []
    assert names_on(cal, "2026-06-05") == ["高考"]
    assert names_on(cal, "2026-06-11") == ["高考"]
    assert names_on(cal, "2026-06-12") == []
    assert only(cal, "2026-06-05").first_day == day("2026-06-05")
    assert only(cal, "2026-06-05").last_day == day("2026-06-11")


def test_lead_reaches_into_the_previous_year():
    """A key date early in January with a long lead is already active in December."""
    cal = calendar({"name": "开学", "each_year": {"from": "01-03", "to": "01-03"}, "lead": "5d"})
    assert only(cal, "2026-12-29") == ActiveKeyDate(
        "开学", "elevated", day("2026-12-29"), day("2027-01-03")
    )
    assert names_on(cal, "2026-12-28") == []


def test_dates_accepts_single_days_and_ranges():
    """Explicit dates are single days or inclusive ranges, only in the years written."""
    cal = calendar(
        {"name": "两会", "dates": ["2027-03-03/2027-03-12"], "vigilance": "high"},
        {"name": "教师节", "dates": ["2026-09-10", dt.date(2027, 9, 10)]},
    )
    assert only(cal, "2027-03-03").last_day == day("2027-03-12")
    assert names_on(cal, "2027-03-12") == ["两会"]
    assert names_on(cal, "2027-03-13") == []
    assert names_on(cal, "2026-03-05") == []
    assert names_on(cal, "2026-09-10") == ["教师节"]
    assert names_on(cal, "2027-09-10") == ["教师节"]
    assert names_on(cal, "2026-09-11") == []
    assert names_on(cal, "2028-09-10") == []


def test_holiday_by_chinese_name_covers_the_whole_break():
    """国庆节 2026 is the 10-01..10-07 break (with 调休 days off), widened by lead and lag."""
    cal = calendar(
        {"name": "国庆", "holiday": "国庆节", "lead": "1d", "lag": "1d", "vigilance": "high"}
    )
    assert only(cal, "2026-10-04") == ActiveKeyDate(
        "国庆", "high", day("2026-09-30"), day("2026-10-08")
    )
    assert names_on(cal, "2026-09-29") == []
    assert names_on(cal, "2026-10-09") == []


def test_holiday_by_english_name_matches_the_chinese_name():
    """'National Day' (any case) and '国庆节' give the same occurrences."""
    zh = calendar({"name": "国庆", "holiday": "国庆节"})
    en = calendar({"name": "国庆", "holiday": "national day"})
    for year in (2024, 2026, 2035):
        first = day(f"{year}-10-01")
        assert zh.active_on(first) == en.active_on(first) != []


def test_holiday_spring_festival_2026_uses_the_published_schedule():
    """春节 2026 is the State Council's 02-15..02-23 break; lead 2d starts it on 02-13."""
    cal = calendar({"name": "春节", "holiday": "春节", "lead": "2d", "vigilance": "elevated"})
    assert only(cal, "2026-02-17") == ActiveKeyDate(
        "春节", "elevated", day("2026-02-13"), day("2026-02-23")
    )
    assert names_on(cal, "2026-02-12") == []
    assert names_on(cal, "2026-02-24") == []


@pytest.mark.parametrize(
    ("holiday", "festival_day", "weeks_off"),
    [
        ("春节", "2027-02-06", ("2027-01-27", "2027-02-17")),
        ("春节", "2035-02-08", ("2035-01-30", "2035-02-19")),
        ("Chinese New Year (Spring Festival)", "2040-02-12", ("2040-02-02", "2040-02-22")),
        ("中秋节", "2035-09-16", ("2035-09-06", "2035-09-26")),
        ("中秋节", "2040-09-20", ("2040-09-10", "2040-09-30")),
    ],
)
def test_holiday_lunar_festivals_are_computed_for_later_years(holiday, festival_day, weeks_off):
    """春节 and 中秋 land on the lunar date in years past any published schedule."""
    cal = calendar({"name": "节日", "holiday": holiday})
    assert names_on(cal, festival_day) == ["节日"]
    for far in weeks_off:
        assert names_on(cal, far) == []


def test_holiday_names_lists_the_recurring_holidays():
    """The names offered to policy staff are the eight recurring statutory holidays."""
    assert set(holiday_names()) == {
        "元旦", "农历除夕", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节",
    }  # fmt: skip


def test_vigilance_on_is_the_highest_active_level():
    """Overlapping key dates give the highest vigilance; a day without any is normal."""
    cal = calendar(
        {"name": "寒假", "each_year": {"from": "01-15", "to": "02-20"}, "vigilance": "elevated"},
        {"name": "考试", "dates": ["2027-01-20"], "vigilance": "high"},
        {"name": "返校", "dates": ["2027-01-20"], "vigilance": "normal"},
    )
    assert sorted(names_on(cal, "2027-01-20")) == ["寒假", "考试", "返校"]
    assert cal.vigilance_on(day("2027-01-20")) == "high"
    assert cal.vigilance_on(day("2027-01-21")) == "elevated"
    assert cal.vigilance_on(day("2027-03-01")) == "normal"


def test_is_workday_knows_makeup_saturdays_and_days_off():
    """调休 weekends are workdays, 调休 weekdays are days off; otherwise weekends are off."""
    cal = Calendar([])
    assert cal.is_workday(day("2026-02-14"))  # Saturday worked for 春节
    assert cal.is_workday(day("2026-01-04"))  # Sunday worked for 元旦
    assert not cal.is_workday(day("2026-02-15"))  # Sunday, first day of the 春节 break
    assert not cal.is_workday(day("2026-10-06"))  # Tuesday off, moved from 09-20
    assert not cal.is_workday(day("2026-06-20"))  # an ordinary Saturday
    assert cal.is_workday(day("2026-06-17"))  # an ordinary Wednesday


def test_statutory_holiday_names_days_off_in_chinese():
    """A statutory day off has the library's Chinese name; workdays and plain weekends have none."""
    cal = Calendar([])
    assert cal.statutory_holiday(day("2026-10-01")) == "国庆节"
    assert cal.statutory_holiday(day("2035-02-08")) == "春节"
    assert "调休" in (cal.statutory_holiday(day("2026-10-06")) or "")
    assert cal.statutory_holiday(day("2026-06-17")) is None
    assert cal.statutory_holiday(day("2026-06-20")) is None


def test_upcoming_lists_occurrences_starting_in_the_window():
    """upcoming() lists occurrences whose first day (lead included) is in [day, day + N]."""
    cal = calendar(
        {**GAOKAO, "lead": "1d"},
        {"name": "元旦前后", "each_year": {"from": "12-30", "to": "01-02"}},
        {"name": "两会", "dates": ["2027-03-03/2027-03-12"]},
    )
    assert [(a.name, a.first_day) for a in cal.upcoming(day("2026-05-30"), 7)] == [
        ("高考", day("2026-06-06"))
    ]
    assert cal.upcoming(day("2026-05-29"), 7) == []
    assert cal.upcoming(day("2026-06-07"), 7) == []  # already started
    assert [a.name for a in cal.upcoming(day("2026-12-20"), 80)] == ["元旦前后", "两会"]


def test_calendar_consults_the_holiday_library_once_per_year(monkeypatch):
    """Asking about every day of a year builds the library's calendar a few times, not daily."""
    built = []
    real_china = calendar_module.holidays.China

    def counting_china(*args, **kwargs):
        built.append(kwargs.get("years"))
        return real_china(*args, **kwargs)

    monkeypatch.setattr(calendar_module.holidays, "China", counting_china)
    calendar_module._china.cache_clear()
    cal = calendar(
        GAOKAO, {"name": "国庆", "holiday": "国庆节"}, {"name": "春节", "holiday": "春节"}
    )
    for offset in range(365):
        today = day("2026-01-01") + dt.timedelta(days=offset)
        cal.vigilance_on(today)
        cal.is_workday(today)
    assert 0 < len(built) <= 8
    assert cal.vigilance_on(day("2026-10-02")) == "elevated"


def test_spec_rejects_two_kinds():
    """A key date with both holiday and dates is rejected in Chinese."""
    text = error_of({"name": "国庆", "holiday": "国庆节", "dates": ["2026-10-01"]})
    assert "请只写 holiday、each_year、dates 其中之一" in text


def test_spec_rejects_no_kind():
    """A key date with none of holiday, each_year, dates is rejected."""
    assert "请写 holiday、each_year、dates 其中之一" in error_of({"name": "高考"})


@pytest.mark.parametrize("bad", ["6-7", "13-01", "02-30", "06/07", 607])
def test_spec_rejects_bad_month_day(bad):
    """each_year.from must be a real MM-DD."""
    text = error_of({"name": "高考", "each_year": {"from": bad, "to": "06-10"}})
    assert "each_year.from 应为 MM-DD，例如 06-07" in text


@pytest.mark.parametrize("bad", ["2026-9-10", "2026-02-30", "2027-03-12/2027-03-03", "a/b/c"])
def test_spec_rejects_bad_dates(bad):
    """dates entries must be YYYY-MM-DD or an ordered YYYY-MM-DD/YYYY-MM-DD range."""
    text = error_of({"name": "两会", "dates": [bad]})
    assert f"dates 中的 {bad!r}" in text


def test_spec_rejects_unknown_holiday_with_suggestion(monkeypatch):
    """An unknown holiday name suggests the closest known one and lists the known names."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    text = error_of({"name": "国庆", "holiday": "国庆"})
    assert "未知的节日 '国庆'" in text
    assert "是否想写 '国庆节'" in text
    assert "元旦、春节" in text


def test_spec_unknown_holiday_is_located_in_the_rule_file(tmp_path, monkeypatch):
    """Through the YAML loader the error points at the holiday value's line and column."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    path = tmp_path / "cal.yaml"
    path.write_text("name: 中秋\nholiday: Mid Autumn Festival\n", encoding="utf-8")
    doc = load_yaml(path)
    with pytest.raises(pydantic.ValidationError) as info:
        KeyDateSpec.model_validate(doc.data)
    (error,) = validation_errors(info.value, doc, KeyDateSpec)
    assert (error.line, error.col) == (2, 10)
    assert "是否想写 'Mid-Autumn Festival'" in error.message


@pytest.mark.parametrize("bad", ["12h", "1.5d", "36h"])
def test_spec_rejects_part_day_lead(bad):
    """lead must be whole days."""
    text = error_of({**GAOKAO, "lead": bad})
    assert "lead 应为整天数" in text


def test_spec_accepts_whole_days_written_in_hours():
    """24h is a whole day and widens the occurrence by one day."""
    cal = calendar({**GAOKAO, "lag": "24h"})
    assert names_on(cal, "2026-06-11") == ["高考"]


def test_spec_defaults_to_elevated_and_rejects_unknown_vigilance():
    """vigilance defaults to elevated; other words than normal/elevated/high are rejected."""
    spec = KeyDateSpec.model_validate(
        {"name": "开学", "each_year": {"from": "09-01", "to": "09-01"}}
    )
    assert spec.vigilance == "elevated"
    assert "vigilance" in error_of({**GAOKAO, "vigilance": "highest"})
