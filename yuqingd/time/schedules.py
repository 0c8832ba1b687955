"""When rules and reports run, as policy staff write it in rule files.

Accepted forms (English words are case-insensitive; full-width digits, colons and spaces are
accepted too):

- ``daily 08:00`` / ``每天 08:00`` (also ``每日``)
- ``monday 09:00`` (any English weekday, full or ``mon``/``tue``/…, optionally ``every monday``) /
  ``每周一 09:00``, ``周一 09:00``, ``星期一 09:00`` … ``周日``/``星期日``/``星期天``
- ``weekdays 08:30`` / ``工作日 08:30``: Monday to Friday. Statutory holidays and 调休 are not
  considered here; the calendar rules handle them.
- ``monthly 1 09:00`` / ``每月1日 09:00`` (also ``1号``). Day 29–31 fires on the last day of
  months that are shorter, so ``monthly 31`` runs every month.
- ``every 2h``, ``every 30m`` (duration syntax of :mod:`yuqingd.time.durations`) / ``每2小时``,
  ``每30分钟``. The interval must divide a day evenly and be at least a minute; the fire times are
  the wall-clock times ``00:00 + k × interval`` of each day, so ``every 2h`` fires at 00:00,
  02:00, … whatever the time the daemon started.
- A 5-field cron expression ``minute hour day-of-month month day-of-week`` (``0 9 * * 1``),
  evaluated by ``cronsim`` with Debian cron's rules (day-of-month and day-of-week are OR-ed when
  both are restricted).

A :class:`Schedule` carries its zone: :func:`parse_schedule` takes it (``Asia/Shanghai`` by
default), :meth:`Schedule.at_zone` re-zones a parsed one, and a model field typed
:data:`ScheduleExpr` takes it from the validation context
(``Model.model_validate(data, context={"timezone": "Europe/Berlin"})``). All times are computed
in that zone. Where it has daylight saving time, a wall time the clocks skip fires at the moment
they jump (``02:30`` on a spring-forward night in Berlin fires at 03:00 CEST), and a wall time
that happens twice fires once, at its first occurrence, except for ``every`` schedules (and cron
expressions with ``*`` in the minute or hour field), which fire in both passes so that their
rhythm in real time is kept.

Nothing here reads the clock: callers pass the moment.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from yuqingd.located import did_you_mean
from yuqingd.time.clock import DEFAULT_TIMEZONE
from yuqingd.time.durations import format_duration_zh, parse_duration

__all__ = ["Schedule", "ScheduleExpr", "parse_schedule"]

EXAMPLES = "daily 08:00, monday 09:00, 每周一 09:00, every 2h, 0 9 * * 1"

_UTC = dt.UTC
_DAY = 86400
_WEEKDAYS_ZH = "一二三四五六日"
_ENGLISH_DAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tue": 1, "tues": 1,
    "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_CHINESE_DAYS = {c: i for i, c in enumerate(_WEEKDAYS_ZH)} | {"天": 6}
_KEYWORDS = ["daily", "weekdays", "monthly", "every", *_ENGLISH_DAYS]
_CRON_FIELDS = {
    "minute": "分钟",
    "hour": "小时",
    "day-of-month": "日",
    "month": "月",
    "day-of-week": "星期",
}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression bound to a time zone; build one with :func:`parse_schedule`.

    Equal when text and zone are equal; ``str()`` gives the text back.
    """

    text: str  # exactly as written
    zone: str  # IANA name the schedule is evaluated in
    form: _Form = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def at_zone(self, zone: str | ZoneInfo) -> Schedule:
        """The same schedule evaluated in ``zone`` (an IANA name such as ``Europe/Berlin``)."""
        return Schedule(self.text, _zone_key(zone), self.form)

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first fire time strictly after the aware ``moment``, in the schedule's zone."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("next_after needs an aware datetime")
        return self.form.next_after(moment.astimezone(_UTC), self.tz).astimezone(self.tz)

    def describe_zh(self) -> str:
        """How the schedule reads to policy staff, e.g. ``每周一 09:00（Asia/Shanghai）``."""
        body, note = self.form.describe_zh()
        return f"{body}（{note}，{self.zone}）" if note else f"{body}（{self.zone}）"


def parse_schedule(text: str, zone: str | ZoneInfo = DEFAULT_TIMEZONE) -> Schedule:
    """Parse a schedule expression; raises ValueError with a Chinese message on bad input."""
    if not isinstance(text, str):
        raise ValueError(f"时间计划应为字符串，如 'daily 08:00'，实际是 {text!r}")
    key = _zone_key(zone)
    norm = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    if not norm:
        raise ValueError(f"时间计划不能为空（示例: {EXAMPLES}）")
    return Schedule(text, key, _parse_form(norm, text))


# --- parsing -------------------------------------------------------------------------------------

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_ENGLISH = re.compile(r"([a-z]+)(?: (.*))?")
_ZH_DAILY = re.compile(r"(?:每天|每日)\s*(.*)")
_ZH_WEEKDAYS = re.compile(r"(?:每个)?工作日\s*(.*)")
_ZH_WEEKLY = re.compile(r"每?(?:周|星期|礼拜)(\S)\s*(.*)")
_ZH_MONTHLY = re.compile(r"每月\s*(\d+)\s*[日号]\s*(.*)")
_ZH_EVERY = re.compile(r"每\s*(\d+)\s*(?:个)?(小时|分钟|秒)")
_ZH_UNITS = {"小时": "h", "分钟": "m", "秒": "s"}


def _parse_form(norm: str, text: str) -> _Form:
    if norm[0] in "0123456789*" and ":" not in norm:
        return _Cron.parse(norm, text)
    if m := _ENGLISH.fullmatch(norm):
        return _parse_english(m.group(1), m.group(2) or "", text)
    if m := _ZH_DAILY.fullmatch(norm):
        return _Weekly(frozenset(range(7)), _time_of_day(m.group(1), text))
    if m := _ZH_WEEKDAYS.fullmatch(norm):
        return _Weekly(frozenset(range(5)), _time_of_day(m.group(1), text))
    if m := _ZH_WEEKLY.fullmatch(norm):
        if m.group(1) not in _CHINESE_DAYS:
            raise ValueError(
                f"无法识别的星期 '{m.group(1)}': {text!r}（应为 周一…周日 或 星期一…星期日/星期天）"
            )
        return _Weekly(frozenset({_CHINESE_DAYS[m.group(1)]}), _time_of_day(m.group(2), text))
    if m := _ZH_MONTHLY.fullmatch(norm):
        return _Monthly(_day_of_month(m.group(1), text), _time_of_day(m.group(2), text))
    if m := _ZH_EVERY.fullmatch(norm):
        return _Every.parse(m.group(1) + _ZH_UNITS[m.group(2)], text)
    head = re.split(r"[\s\d]", norm, maxsplit=1)[0]
    raise _unrecognised(text, head)


def _parse_english(word: str, rest: str, text: str) -> _Form:
    if word == "every":
        first, _, after = rest.partition(" ")
        if first in _ENGLISH_DAYS:
            return _Weekly(frozenset({_ENGLISH_DAYS[first]}), _time_of_day(after, text))
        if first == "day":
            return _Weekly(frozenset(range(7)), _time_of_day(after, text))
        return _Every.parse(rest, text)
    if word == "daily":
        return _Weekly(frozenset(range(7)), _time_of_day(rest, text))
    if word in ("weekdays", "weekday"):
        return _Weekly(frozenset(range(5)), _time_of_day(rest, text))
    if word in _ENGLISH_DAYS:
        return _Weekly(frozenset({_ENGLISH_DAYS[word]}), _time_of_day(rest, text))
    if word == "monthly":
        day, _, after = rest.partition(" ")
        if not day.isdigit():
            raise ValueError(f"monthly 后应写日期和时间，如 'monthly 1 09:00': {text!r}")
        return _Monthly(_day_of_month(day, text), _time_of_day(after, text))
    raise _unrecognised(text, word)


def _unrecognised(text: str, word: str) -> ValueError:
    hint = did_you_mean(word, _KEYWORDS) if word else ""
    return ValueError(f"无法识别的时间计划 {text!r}{hint}（示例: {EXAMPLES}）")


def _time_of_day(part: str, text: str) -> dt.time:
    m = _TIME.fullmatch(part.strip())
    if not m:
        raise ValueError(f"时间应写成 HH:MM（如 08:00）: {text!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23:
        raise ValueError(f"小时超出范围（0–23）: {text!r}")
    if minute > 59:
        raise ValueError(f"分钟超出范围（0–59）: {text!r}")
    return dt.time(hour, minute)


def _day_of_month(part: str, text: str) -> int:
    day = int(part)
    if not 1 <= day <= 31:
        raise ValueError(f"日期超出范围（1–31）: {text!r}")
    return day


def _zone_key(zone: str | ZoneInfo) -> str:
    key = zone.key if isinstance(zone, ZoneInfo) else zone
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"未知时区 '{key}'（示例: Asia/Shanghai）") from None
    return key


# --- the forms -----------------------------------------------------------------------------------


class _Form(Protocol):
    def next_after(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        """First fire instant (UTC) strictly after ``moment`` (UTC)."""
        ...

    def describe_zh(self) -> tuple[str, str]:
        """The Chinese wording and an optional note."""
        ...


class _WallClockForm:
    """A form given as wall-clock times in the zone, produced in order by ``walls_from``."""

    repeat_in_fold = False  # fire in both passes when the clocks go back

    def walls_from(self, day: dt.date) -> Iterator[dt.datetime]:
        raise NotImplementedError

    def next_after(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        # A day's margin: an instant after ``moment`` can have an earlier wall time when the
        # clocks have just gone back. The earliest instant of each wall time never decreases
        # from one wall time to the next, so we can stop once it passes the best found.
        start = moment.astimezone(tz).date() - dt.timedelta(days=1)
        best: dt.datetime | None = None
        for wall in self.walls_from(start):
            instants = _instants(wall, tz, both=self.repeat_in_fold)
            if best is not None and instants[0] >= best:
                return best
            for instant in instants:
                if instant > moment and (best is None or instant < best):
                    best = instant
        raise AssertionError("walls_from is endless")


@dataclass(frozen=True)
class _Weekly(_WallClockForm):
    """Daily, weekdays or one weekday, at a time of day."""

    days: frozenset[int]  # Monday is 0
    at: dt.time

    def walls_from(self, day: dt.date) -> Iterator[dt.datetime]:
        while True:
            if day.weekday() in self.days:
                yield dt.datetime.combine(day, self.at)
            day += dt.timedelta(days=1)

    def describe_zh(self) -> tuple[str, str]:
        at = self.at.strftime("%H:%M")
        if len(self.days) == 7:
            return f"每天 {at}", ""
        if self.days == frozenset(range(5)):
            return f"每周一至周五 {at}", "不含节假日调整"
        (day,) = self.days
        return f"每周{_WEEKDAYS_ZH[day]} {at}", ""


@dataclass(frozen=True)
class _Monthly(_WallClockForm):
    """A day of the month (clamped to the month's last day) at a time of day."""

    day: int
    at: dt.time

    def walls_from(self, day: dt.date) -> Iterator[dt.datetime]:
        year, month = day.year, day.month
        while True:
            last = calendar.monthrange(year, month)[1]
            yield dt.datetime.combine(dt.date(year, month, min(self.day, last)), self.at)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def describe_zh(self) -> tuple[str, str]:
        note = "无此日的月份在月末最后一天" if self.day > 28 else ""
        return f"每月{self.day}日 {self.at.strftime('%H:%M')}", note


@dataclass(frozen=True)
class _Every(_WallClockForm):
    """Every ``seconds``, on the grid 00:00 + k × seconds of each local day."""

    seconds: int
    repeat_in_fold = True

    @classmethod
    def parse(cls, part: str, text: str) -> _Every:
        try:
            seconds = parse_duration(part)
        except ValueError:
            raise ValueError(
                f"every 后应为时长，如 every 2h、every 30m: {text!r}（示例: {EXAMPLES}）"
            ) from None
        if seconds < 60:
            raise ValueError(f"间隔至少 1 分钟: {text!r}")
        if seconds > _DAY:
            raise ValueError(
                f"every 的间隔最长 24h: {text!r}；更长的周期请写 daily 08:00、monday 09:00 或 "
                "monthly 1 09:00"
            )
        if not seconds.is_integer() or _DAY % int(seconds):
            raise ValueError(f"间隔须能整除一天（如 15m, 30m, 1h, 2h, 4h, 6h, 12h）: {text!r}")
        return cls(int(seconds))

    def walls_from(self, day: dt.date) -> Iterator[dt.datetime]:
        step = dt.timedelta(seconds=self.seconds)
        while True:
            midnight = dt.datetime.combine(day, dt.time())
            for k in range(_DAY // self.seconds):
                yield midnight + k * step
            day += dt.timedelta(days=1)

    def describe_zh(self) -> tuple[str, str]:
        return f"每 {format_duration_zh(self.seconds, spaced=True, days=False)}", "自每天 00:00 起"


@dataclass(frozen=True)
class _Cron:
    """A 5-field cron expression, evaluated by cronsim."""

    expr: str

    @classmethod
    def parse(cls, norm: str, text: str) -> _Cron:
        fields = norm.split()
        if len(fields) != 5:
            raise ValueError(
                f"cron 表达式应有 5 个字段（分 时 日 月 周），{text!r} 有 {len(fields)} 个"
            )
        expr = " ".join(fields)
        try:
            next(CronSim(expr, dt.datetime(2000, 1, 1, tzinfo=_UTC)))
        except CronSimError as exc:
            field = str(exc).removeprefix("Bad ")
            where = f"的{_CRON_FIELDS[field]}字段" if field in _CRON_FIELDS else ""
            raise ValueError(
                f"cron 表达式{where}无效: {text!r}（示例: 0 9 * * 1 表示每周一 09:00）"
            ) from None
        except StopIteration:
            raise ValueError(f"cron 表达式永远不会触发: {text!r}") from None
        return cls(expr)

    def next_after(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        # cronsim works on whole seconds and, for fixed times, in naive wall time; it may hand
        # back the first pass of a repeated hour that lies before ``moment``.
        for fire in CronSim(self.expr, moment.astimezone(tz)):
            if fire.astimezone(_UTC) > moment:
                return fire.astimezone(_UTC)
        raise AssertionError("cron expression checked to fire when parsed")

    def describe_zh(self) -> tuple[str, str]:
        return f"按 cron 表达式 {self.expr}", ""


def _instants(wall: dt.datetime, tz: ZoneInfo, *, both: bool) -> list[dt.datetime]:
    """UTC instants at which the wall time ``wall`` happens in ``tz``, earliest first."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(_UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(_UTC)
    if first == second:
        return [first]
    if first.astimezone(tz).replace(tzinfo=None) == wall:  # clocks went back: it happens twice
        return [first, second] if both else [first]
    # Clocks jumped over it. For a gap, fold=1 reads the wall time with the offset after the
    # jump (an instant before it) and fold=0 with the offset before (after it): bisect between.
    lo, hi = second, first
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == hi.astimezone(tz).utcoffset():
            hi = mid
        else:
            lo = mid
    return [hi.replace(microsecond=0)]


# --- pydantic ------------------------------------------------------------------------------------


def _validate(value: Any, info: ValidationInfo) -> Schedule:
    # The zone comes from validation context {"timezone": ...} when the loader passes the
    # config's zone; otherwise the default. ``Schedule.at_zone`` re-zones later.
    if isinstance(value, Schedule):
        return value
    context = info.context
    zone = DEFAULT_TIMEZONE
    if isinstance(context, Mapping) and context.get("timezone"):
        zone = context["timezone"]
    return parse_schedule(value, zone)


ScheduleExpr = Annotated[
    Schedule,
    PlainValidator(_validate),
    PlainSerializer(lambda schedule: schedule.text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": (
                "时间计划（按配置的时区）: daily 08:00 / 每天 08:00、monday 09:00 / 每周一 09:00、"
                "weekdays 08:30 / 工作日 08:30、monthly 1 09:00 / 每月1日 09:00、"
                "every 2h / every 30m（从每天 00:00 起），或 5 段 cron 表达式（分 时 日 月 周）"
            ),
            "examples": [
                "daily 08:00",
                "每周一 09:00",
                "weekdays 08:30",
                "every 2h",
                "每月1日 09:00",
                "0 9 * * 1",
            ],
        }
    ),
]
"""A model field type: validates a schedule string, serialises back to it, schema is a string."""
