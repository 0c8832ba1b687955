"""Times as Chinese pages print them (``刚刚``, ``3分钟前``, ``昨天 10:21``, ``11-28 14:30``,
``2026年11月28日``…), parsed exactly against a given "now" in the configured zone.

dateparser gets ``11-28 14:30`` and ``11月28日`` wrong; this small parser knows the forms forums,
news lists and search pages use, and returns None for anything else (the caller falls back to
the fetch time and says so).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

__all__ = ["parse_chinese_time"]

# A date without a year that lies ahead of "now" by more than this is last year's; the margin
# absorbs a site's clock running a few minutes fast.
FUTURE_MARGIN = dt.timedelta(minutes=10)

_LABEL = re.compile(r"^(?:发表于|发布于|更新于|回复于|发布时间|更新时间|时间|日期)\s*[:：]?\s*")
_CLOCK = r"(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_AGO = re.compile(r"(\d+|半)\s*(?:个)?\s*(秒|秒钟|分|分钟|小时|钟头|天|周|星期)\s*(?:之)?前")
_NAMED_DAY = re.compile(r"(今天|昨天|前天)" + _CLOCK)
_FULL_DATE = re.compile(r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?"
                        r"|[-/.](\d{1,2})[-/.](\d{1,2}))(?:\s+|T)?" + _CLOCK)
_MONTH_DAY = re.compile(r"(?:(\d{1,2})\s*月\s*(\d{1,2})\s*日?|(\d{1,2})-(\d{1,2}))" + _CLOCK)

_UNIT_SECONDS = {"秒": 1, "秒钟": 1, "分": 60, "分钟": 60, "小时": 3600, "钟头": 3600,
                 "天": 86400, "周": 7 * 86400, "星期": 7 * 86400}
_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}


def parse_chinese_time(text: str, now: dt.datetime) -> dt.datetime | None:
    """The moment ``text`` names, in ``now``'s zone (``now`` must be aware), or None when the
    form is unknown or the date does not exist. A date without a time is its midnight."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    # NFKC folds full-width digits and colons (２０２６年, 10：21) into ASCII.
    s = unicodedata.normalize("NFKC", text).strip().strip("[]()【】〔〕<>").strip()
    s = _LABEL.sub("", s).strip()
    if not s:
        return None
    try:
        return _parse(s, now)
    except ValueError:  # 2月30日, 25:00 …
        return None


def _parse(s: str, now: dt.datetime) -> dt.datetime | None:
    zone = now.tzinfo
    if s in ("刚刚", "刚才", "now"):
        return now
    if match := _AGO.fullmatch(s):
        amount, unit = match.groups()
        seconds = _UNIT_SECONDS[unit] * (0.5 if amount == "半" else int(amount))
        return now - dt.timedelta(seconds=seconds)
    if match := _NAMED_DAY.fullmatch(s):
        date = now.date() - dt.timedelta(days=_DAYS_BACK[match.group(1)])
        return _at(date.year, date.month, date.day, match.groups()[1:], zone)
    if match := _FULL_DATE.fullmatch(s):
        year, month_cn, day_cn, month_dash, day_dash, *clock = match.groups()
        return _at(int(year), int(month_cn or month_dash), int(day_cn or day_dash), clock, zone)
    if match := _MONTH_DAY.fullmatch(s):
        month_cn, day_cn, month_dash, day_dash, *clock = match.groups()
        month, day = int(month_cn or month_dash), int(day_cn or day_dash)
        moment = _at(now.year, month, day, clock, zone)
        if moment > now + FUTURE_MARGIN:
            moment = _at(now.year - 1, month, day, clock, zone)
        return moment
    return _iso(s, zone)


def _at(year: int, month: int, day: int, clock, zone) -> dt.datetime:
    hour, minute, second = (int(part) if part else 0 for part in clock)
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)


def _iso(s: str, zone) -> dt.datetime | None:
    """ISO 8601 with an offset (``2026-11-28T14:30:05+08:00``), as ``<time datetime>`` holds."""
    try:
        moment = dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone)
