"""Key dates (高考, 两会, statutory holidays…) and the vigilance level they raise.

Policy staff declare key dates in a rule file's ``calendar:`` list, each as exactly one of:

- ``holiday``: a statutory holiday by name, Chinese (``国庆节``) or English (``National Day``) as
  the ``holidays`` library's China calendar writes it. An occurrence is the whole break the
  holiday falls in: the run of consecutive days off (weekends, 补假, 调休 days off) around it, so
  ``国庆节`` in 2026 is 10-01..10-07. Lunar festivals are computed for any year; the 调休 schedule
  is known only for years the State Council has published and the library carries.
- ``each_year: {from: MM-DD, to: MM-DD}``: every year; ``to`` before ``from`` wraps over new year.
  ``02-29`` means 02-28 in common years.
- ``dates``: ``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD`` (both ends included).

``lead`` and ``lag`` (whole days) widen every occurrence. Everything here works on dates in the
bureau's zone; the caller turns its clock into a date.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from yuqingd.located import did_you_mean
from yuqingd.schema_types import STRICT, Duration, NonEmptyStr

Vigilance = Literal["normal", "elevated", "high"]
_RANK: dict[str, int] = {"normal": 0, "elevated": 1, "high": 2}

_DAY = 86400
_LANGUAGE = "zh_CN"
# Suffixes the library adds to a holiday's name: observed (补假) and estimated (推定) days.
_SUFFIX = re.compile(r"\s*[（(](?:补假|推定|observed|estimated)[^（()）]*[）)]\s*$")
# The names the library gives to a weekend day off moved by 调休; they name no holiday.
_SUBSTITUTED = re.compile(r"^(?:休息日（由|Day off \(substituted)")
# Years scanned to learn the library's holiday names in both languages.
_NAME_YEARS = range(2000, 2041)
# A break (run of days off) longer than this is not followed further.
_MAX_BREAK_REACH = 31


# ---------------------------------------------------------------------------------------------
# Holiday data from the library


@functools.lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    """The library's China calendar for ``year``, in Chinese.

    The next year is loaded too: a 调休 workday can fall in December for the next New Year.
    """
    return holidays.China(years=(year, year + 1), language=_LANGUAGE)


def _base_names(label: str) -> list[str]:
    """Holiday names in one library label ('中秋节; 国庆节', '春节（补假）'), without suffixes."""
    out = []
    for part in label.split("; "):
        if _SUBSTITUTED.match(part):
            continue
        while True:
            stripped = _SUFFIX.sub("", part)
            if stripped == part:
                break
            part = stripped
        out.append(part)
    return out


@dataclass(frozen=True)
class _HolidayNames:
    canonical: dict[str, str]  # casefolded Chinese or English name -> Chinese name
    spellings: tuple[str, ...]  # every accepted name as the library writes it
    recurring: tuple[str, ...]  # Chinese names seen in more than one year, in calendar order


@functools.cache
def _holiday_names() -> _HolidayNames:
    """Every holiday name the library's China calendar uses, paired across languages by date."""
    zh = holidays.China(years=_NAME_YEARS, language="zh_CN")
    en = holidays.China(years=_NAME_YEARS, language="en_US")
    canonical: dict[str, str] = {}
    spellings: dict[str, None] = {}
    years_seen: dict[str, set[int]] = {}
    first_seen: dict[str, tuple[int, int]] = {}
    for day, label in zh.items():
        zh_names = _base_names(label)
        en_names = _base_names(en.get(day, ""))
        for zh_name in zh_names:
            canonical[zh_name.casefold()] = zh_name
            spellings[zh_name] = None
            years_seen.setdefault(zh_name, set()).add(day.year)
            first_seen[zh_name] = min(first_seen.get(zh_name, (13, 32)), (day.month, day.day))
        if len(en_names) == len(zh_names):
            for zh_name, en_name in zip(zh_names, en_names, strict=True):
                canonical.setdefault(en_name.casefold(), zh_name)
                spellings[en_name] = None
    recurring = sorted((n for n, ys in years_seen.items() if len(ys) > 1),
                       key=first_seen.__getitem__)
    return _HolidayNames(canonical, tuple(spellings), tuple(recurring))


def holiday_names() -> tuple[str, ...]:
    """The Chinese names of the statutory holidays that recur every year, in calendar order."""
    return _holiday_names().recurring


def _canonical_holiday(name: str) -> str | None:
    return _holiday_names().canonical.get(name.strip().casefold())


def _is_workday(day: dt.date) -> bool:
    return _china(day.year).is_working_day(day)


# ---------------------------------------------------------------------------------------------
# The rule-file model


def _iso_text(value: Any) -> Any:
    # Unquoted YAML dates (2026-09-10) arrive as date objects; take them as written.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _month_day(text: str) -> tuple[int, int]:
    """``MM-DD`` as (month, day); raises ValueError. ``02-29`` is allowed."""
    match = re.fullmatch(r"(\d{2})-(\d{2})", text)
    if not match:
        raise ValueError(text)
    month, day = int(match[1]), int(match[2])
    dt.date(2000, month, day)  # a leap year; raises ValueError for 02-30, 13-01…
    return month, day


def _on(year: int, month_day: tuple[int, int]) -> dt.date:
    month, day = month_day
    if (month, day) == (2, 29) and not _is_leap(year):
        day = 28
    return dt.date(year, month, day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _parse_span(text: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD`` as (first, last); raises ValueError."""
    parts = [p.strip() for p in text.strip().split("/")]
    try:
        if len(parts) > 2 or not all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p) for p in parts):
            raise ValueError(text)
        first, last = dt.date.fromisoformat(parts[0]), dt.date.fromisoformat(parts[-1])
    except ValueError:
        raise ValueError(
            f"dates 中的 {text!r} 应为 YYYY-MM-DD 或 YYYY-MM-DD/YYYY-MM-DD，"
            "例如 2026-09-10 或 2027-03-03/2027-03-12"
        ) from None
    if last < first:
        raise ValueError(f"dates 中的 {text!r} 结束日期早于开始日期")
    return first, last


class EachYear(BaseModel):
    """A range of month-days repeated every year; ``to`` before ``from`` wraps over new year."""

    model_config = STRICT
    from_: str = Field(alias="from", json_schema_extra={"pattern": r"^\d{2}-\d{2}$"})
    to: str = Field(json_schema_extra={"pattern": r"^\d{2}-\d{2}$"})

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _check_month_day(cls, value: Any, info: ValidationInfo) -> str:
        field = "from" if info.field_name == "from_" else info.field_name
        example = "06-07" if field == "from" else "06-10"
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            _month_day(value.strip())
        except ValueError:
            raise ValueError(
                f"each_year.{field} 应为 MM-DD，例如 {example}（写的是 {value!r}）"
            ) from None
        return value.strip()

    @property
    def first(self) -> tuple[int, int]:
        return _month_day(self.from_)

    @property
    def last(self) -> tuple[int, int]:
        return _month_day(self.to)


DateSpan = Annotated[str, BeforeValidator(_iso_text)]


class KeyDateSpec(BaseModel):
    """One key date as policy staff declare it in a rule file's ``calendar:`` list."""

    model_config = STRICT
    name: NonEmptyStr
    holiday: str | None = None
    each_year: EachYear | None = None
    dates: list[DateSpan] | None = None
    lead: Duration = 0
    lag: Duration = 0
    vigilance: Vigilance = "elevated"

    @field_validator("holiday")
    @classmethod
    def _known_holiday(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _canonical_holiday(value) is None:
            names = _holiday_names()
            known = "、".join(names.recurring)
            hint = did_you_mean(value.strip(), names.spellings)
            raise ValueError(
                f"未知的节日 {value!r}{hint}；可写: {known}（也可写 holidays 库的英文名，"
                "如 National Day）"
            )
        return value

    @field_validator("dates")
    @classmethod
    def _check_dates(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError('dates 不能为空，例如 ["2026-09-10"]')
        for text in value:
            _parse_span(text)
        return value

    @field_validator("lead", "lag")
    @classmethod
    def _whole_days(cls, value: float, info: ValidationInfo) -> float:
        if value % _DAY:
            raise ValueError(f"{info.field_name} 应为整天数，例如 1d 或 2d（不能写半天或小时）")
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> KeyDateSpec:
        given = [self.holiday, self.each_year, self.dates]
        count = sum(v is not None for v in given)
        if count == 0:
            raise ValueError(
                "请写 holiday、each_year、dates 其中之一（节日名、每年的月日范围，或具体日期）"
            )
        if count > 1:
            raise ValueError("请只写 holiday、each_year、dates 其中之一")
        return self

    def spans(self) -> list[tuple[dt.date, dt.date]]:
        """The explicit ``dates`` as (first, last) pairs, without lead and lag."""
        return [_parse_span(text) for text in self.dates or ()]


# ---------------------------------------------------------------------------------------------
# The calendar


@dataclass(frozen=True)
class ActiveKeyDate:
    """One occurrence of a key date; ``first_day``..``last_day`` include lead and lag."""

    name: str
    vigilance: Vigilance
    first_day: dt.date
    last_day: dt.date


class Calendar:
    """Answers what key dates, vigilance and working days a date has; results cached per year."""

    def __init__(self, specs: Sequence[KeyDateSpec]) -> None:
        self._specs = tuple(specs)
        reach_days = max((max(s.lead, s.lag) for s in self._specs), default=0) // _DAY
        # How many years away an occurrence can start and still reach into a given year.
        self._reach_years = 1 + int(reach_days) // 365 + 1
        self._by_year: dict[int, tuple[ActiveKeyDate, ...]] = {}

    def active_on(self, day: dt.date) -> list[ActiveKeyDate]:
        """Occurrences whose [start - lead, end + lag] contains ``day``."""
        return [o for o in self._touching(day.year) if o.first_day <= day <= o.last_day]

    def vigilance_on(self, day: dt.date) -> Vigilance:
        """The highest vigilance among the key dates active on ``day``; normal if none."""
        levels = [o.vigilance for o in self.active_on(day)]
        return max(levels, key=_RANK.__getitem__, default="normal")

    def upcoming(self, day: dt.date, within_days: int) -> list[ActiveKeyDate]:
        """Occurrences whose first day (lead included) is ``day`` or up to ``within_days`` later."""
        until = day + dt.timedelta(days=within_days)
        found: set[ActiveKeyDate] = set()
        for year in range(day.year, until.year + 1):
            found.update(o for o in self._touching(year) if day <= o.first_day <= until)
        return sorted(found, key=_order)

    def statutory_holiday(self, day: dt.date) -> str | None:
        """The library's Chinese name for a statutory day off (节日, 补假, 调休), else None."""
        return _china(day.year).get(day)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day: weekdays that are not days off, plus 调休 weekends."""
        return _is_workday(day)

    def _touching(self, year: int) -> tuple[ActiveKeyDate, ...]:
        cached = self._by_year.get(year)
        if cached is None:
            lo, hi = dt.date(year, 1, 1), dt.date(year, 12, 31)
            near = range(year - self._reach_years, year + self._reach_years + 1)
            found = {
                occurrence
                for spec in self._specs
                for occurrence in _occurrences(spec, near)
                if occurrence.first_day <= hi and occurrence.last_day >= lo
            }
            cached = self._by_year[year] = tuple(sorted(found, key=_order))
        return cached


def _order(occurrence: ActiveKeyDate) -> tuple:
    return occurrence.first_day, occurrence.last_day, occurrence.name


def _occurrences(spec: KeyDateSpec, years: range) -> Iterator[ActiveKeyDate]:
    lead = dt.timedelta(days=int(spec.lead // _DAY))
    lag = dt.timedelta(days=int(spec.lag // _DAY))
    for first, last in _spans(spec, years):
        yield ActiveKeyDate(spec.name, spec.vigilance, first - lead, last + lag)


def _spans(spec: KeyDateSpec, years: range) -> Iterator[tuple[dt.date, dt.date]]:
    if spec.dates is not None:
        yield from spec.spans()
    elif spec.each_year is not None:
        first_md, last_md = spec.each_year.first, spec.each_year.last
        wraps = last_md < first_md
        for year in years:
            yield _on(year, first_md), _on(year + 1 if wraps else year, last_md)
    elif spec.holiday is not None:
        name = _canonical_holiday(spec.holiday)
        for year in years:
            yield from _holiday_breaks(name, year)


def _holiday_breaks(name: str | None, year: int) -> list[tuple[dt.date, dt.date]]:
    """The breaks (runs of days off) in ``year`` that contain a day named ``name``."""
    days = sorted(
        day
        for day, label in _china(year).items()
        if day.year == year and name in _base_names(label)
    )
    breaks: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if breaks and breaks[-1][0] <= day <= breaks[-1][1]:
            continue
        breaks.append((_stretch(day, -1), _stretch(day, +1)))
    return breaks


def _stretch(day: dt.date, step: int) -> dt.date:
    """The last day off reached from ``day`` going ``step`` days at a time."""
    one = dt.timedelta(days=step)
    for _ in range(_MAX_BREAK_REACH):
        if _is_workday(day + one):
            break
        day += one
    return day
