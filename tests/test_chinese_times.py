"""Chinese page times parsed exactly against a fixed "now" in the configured zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yuqingd.time.chinese_times import parse_chinese_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 4, 11, 6, 30, tzinfo=SHANGHAI)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.mark.parametrize(("text", "expected"), [
    ("刚刚", NOW),
    ("3分钟前", NOW - dt.timedelta(minutes=3)),
    ("半小时前", NOW - dt.timedelta(minutes=30)),
    ("2小时前", NOW - dt.timedelta(hours=2)),
    ("1个小时前", NOW - dt.timedelta(hours=1)),
    ("45秒前", NOW - dt.timedelta(seconds=45)),
    ("3 天前", NOW - dt.timedelta(days=3)),
    ("今天 09:15", at(2026, 12, 4, 9, 15)),
    ("昨天 10:21", at(2026, 12, 3, 10, 21)),
    ("前天 08:00", at(2026, 12, 2, 8, 0)),
    ("前天", at(2026, 12, 2)),
    ("11-28 14:30", at(2026, 11, 28, 14, 30)),
    ("12-04 11:10", at(2026, 12, 4, 11, 10)),  # minutes ahead: a site's clock, not last year
    ("12-25 09:00", at(2025, 12, 25, 9, 0)),  # would be in the future: last year
    ("11月28日", at(2026, 11, 28)),
    ("12月31日 23:59", at(2025, 12, 31, 23, 59)),
    ("2026年11月28日", at(2026, 11, 28)),
    ("2026年11月28日 14:30", at(2026, 11, 28, 14, 30)),
    ("２０２６年１１月２８日　１４：３０", at(2026, 11, 28, 14, 30)),  # full-width
    ("2026-11-28", at(2026, 11, 28)),
    ("2026-11-28 14:30:05", at(2026, 11, 28, 14, 30, 5)),
    ("2026/3/5 7:05", at(2026, 3, 5, 7, 5)),
    ("发表于 2026-11-28 14:30", at(2026, 11, 28, 14, 30)),
    ("发布时间：2026-11-28", at(2026, 11, 28)),
    ("[2026-11-28]", at(2026, 11, 28)),  # government news lists
    ("（11-28）", at(2026, 11, 28)),
    ("【2026年11月28日】", at(2026, 11, 28)),
    ("2026-11-28T06:30:05+00:00", at(2026, 11, 28, 14, 30, 5)),
])
def test_chinese_time_forms_are_exact(text: str, expected: dt.datetime) -> None:
    """Every form forums and news lists print names one exact moment in the configured zone."""
    got = parse_chinese_time(text, NOW)
    assert got == expected
    assert got is not None and got.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("text", ["", "很久以前", "上个月", "2026年2月30日", "13-01 10:00",
                                  "昨天 25:00", "3分钟后", "置顶"])
def test_chinese_time_unknown_or_impossible_is_none(text: str) -> None:
    """A form the parser does not know, or a date that does not exist, is None, not a guess."""
    assert parse_chinese_time(text, NOW) is None


def test_chinese_time_in_another_zone() -> None:
    """昨天 is the day before in the configured zone, not in UTC."""
    utc_now = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)  # already 12-04 01:00 in Shanghai
    assert parse_chinese_time("昨天 10:21", utc_now.astimezone(SHANGHAI)) == at(2026, 12, 3, 10, 21)


def test_chinese_time_needs_an_aware_now() -> None:
    """A naive "now" is a programming error, refused loudly."""
    with pytest.raises(ValueError):
        parse_chinese_time("刚刚", dt.datetime(2026, 12, 4))
