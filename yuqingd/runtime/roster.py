"""The duty roster (值班表): who holds which role in each shift, and where it falls short.

Policy staff declare a ``duty:`` section:

- ``people``: everyone who can be on the roster, with the notifier channels that reach them.
- ``shifts``: the shifts of one duty day, in order, together covering the 24 hours exactly
  (default one shift 08:00→08:00). A duty day is named by the date its first shift starts on:
  with the default shift, 2026-11-03 07:59 still belongs to duty day 2026-11-02.
- ``roster``: a ``rotation`` (from ``start``, turn n lasts ``every`` whole days and gives each
  role element n mod len of its list; a list element may be a team, and a role may have one list
  per shift), explicit ``dates`` that replace the rotation role by role (and shift by shift), and
  ``swaps`` applied last: on that duty day, ``to`` takes every place ``from`` holds.
- ``staffing``: how many people key dates (names from the rule files' ``calendar:``) require per
  role, the largest requirement winning; an entry without ``key_dates`` applies every day.
- ``warn_ahead`` (whole days): how far ahead a shortfall is warned (to the ``gaps_notify``
  roles); ``check_in_within``: how long after its shift starts the ``check_in_role`` holders
  must check in (then they are reminded, and ``check_in_escalate`` roles are told in turn).

Everything here is pure: callers pass aware datetimes or dates, nothing reads the clock. Shift
boundaries are wall-clock times in the zone of the moment asked about.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from yuqingd.located import Loc, did_you_mean
from yuqingd.schema_types import STRICT, Duration, NonEmptyStr, PositiveDuration, fallback_chain
from yuqingd.time.calendar import Calendar
from yuqingd.time.durations import format_duration

_DAY = 86400
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")

# ---------------------------------------------------------------------------------------------
# Field types


def _day(value: Any) -> Any:
    """A date as YAML gives it (unquoted: a date object) or as ``YYYY-MM-DD`` text."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"应为日期 YYYY-MM-DD，例如 2026-11-02（写的是 {value!r}）")


def _whole_days(value: float, what: str) -> float:
    if value % _DAY:
        raise ValueError(f"{what} 应为整天数，例如 1d 或 7d（写的是 {format_duration(value)}）")
    return value


Day = Annotated[dt.date, BeforeValidator(_day)]
# One person, or several holding a role together.
Team = NonEmptyStr | Annotated[list[NonEmptyStr], Field(min_length=1)]
Turns = Annotated[list[Team], Field(min_length=1)]
# A date's holders of a role; an empty list means nobody holds it that day.
Holders = NonEmptyStr | list[NonEmptyStr]


# ---------------------------------------------------------------------------------------------
# The `duty:` section


class PersonSpec(BaseModel):
    """Someone who can be on duty, and the notifiers (by name) that reach them (all of them;
    with ``fallback_after``, the first, then the next once it has failed that long)."""

    model_config = STRICT
    channels: Annotated[list[NonEmptyStr], Field(min_length=1)]
    fallback_after: PositiveDuration | None = None
    _fallback_chain = field_validator("fallback_after")(fallback_chain)


class ShiftSpec(BaseModel):
    """One shift of the duty day: its name, start time (``HH:MM``) and length."""

    model_config = STRICT
    name: NonEmptyStr
    start: str = Field(json_schema_extra={"pattern": r"^\d{1,2}:\d{2}$"})
    length: PositiveDuration

    @field_validator("start", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 20:00 as the base-60 number 1200.
            hour, minute = divmod(value, 60)
            hint = f"，请加引号写成 \"{hour:02d}:{minute:02d}\"" if 0 <= hour <= 23 else ""
            raise ValueError(f"start 应为带引号的 HH:MM（YAML 把不加引号的时间读成了数字 {value}"
                             f"{hint}）")
        match = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"start 应为 HH:MM，例如 \"08:00\"（写的是 {value!r}）")
        return f"{int(match[1]):02d}:{match[2]}"

    @property
    def start_time(self) -> dt.time:
        return dt.time.fromisoformat(self.start)


DEFAULT_SHIFT = ShiftSpec(name="全天", start="08:00", length=_DAY)


def _fail(title: str, problems: Sequence[tuple[Loc, str, Any]]) -> None:
    """Raise every problem as one ValidationError, each at its own place in the section."""
    if problems:
        raise pydantic.ValidationError.from_exception_data(title, [
            InitErrorDetails(type=PydanticCustomError("value_error", "{error}", {"error": text}),
                             loc=loc, input=value)
            for loc, text, value in problems
        ])


def _clock(seconds: float) -> str:
    seconds = int(seconds) % _DAY
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _tile(shifts: list[ShiftSpec]) -> list[ShiftSpec]:
    """The shifts, in the order written, must follow each other and cover exactly 24 hours."""
    problems: list[tuple[Loc, str, Any]] = []
    names: set[str] = set()
    for i, shift in enumerate(shifts):
        if shift.name in names:
            problems.append(((i, "name"), f"班次名 '{shift.name}' 重复", shift.name))
        names.add(shift.name)
    first = _seconds(shifts[0].start_time)
    offset = 0.0  # seconds from the first shift's start to the end of the previous shift
    for i, shift in enumerate(shifts[1:], start=1):
        offset += shifts[i - 1].length
        expected = (first + offset) % _DAY
        written = _seconds(shift.start_time)
        if written == expected or offset >= _DAY:
            continue
        drift = (written - expected) % _DAY
        previous = shifts[i - 1].name
        if drift < _DAY / 2:
            problems.append(((i, "start"), f"班次 '{shift.name}' 与上一班次 '{previous}' 之间有 "
                             f"{format_duration(drift)} 的空档（'{previous}' 结束于 "
                             f"{_clock(expected)}，班次须首尾相接覆盖全天）", shift.start))
        else:
            problems.append(((i, "start"), f"班次 '{shift.name}' 与上一班次 '{previous}' 重叠 "
                             f"{format_duration(_DAY - drift)}（'{previous}' 结束于 "
                             f"{_clock(expected)}，班次须首尾相接覆盖全天）", shift.start))
    total = sum(s.length for s in shifts)
    if total != _DAY and not problems:
        last = len(shifts) - 1
        if len(shifts) == 1:
            text = ("只有一个班次时 length 应为 24h（班次须覆盖全天），"
                    f"写的是 {format_duration(total)}")
        elif total < _DAY:
            text = (f"最后一个班次 '{shifts[-1].name}' 结束于 {_clock(first + total)}，"
                    f"与第一个班次 '{shifts[0].name}' 的开始 {shifts[0].start} 之间有 "
                    f"{format_duration(_DAY - total)} 的空档（班次须首尾相接覆盖全天）")
        else:
            text = (f"各班次合计 {total / 3600:g}h，超过 24h：最后一个班次 "
                    f"'{shifts[-1].name}' 与第一个班次 '{shifts[0].name}' 重叠 "
                    f"{format_duration(total - _DAY)}（班次须首尾相接覆盖全天）")
        problems.append(((last, "length"), text, shifts[-1].length))
    _fail("shifts", problems)
    return shifts


def _seconds(time: dt.time) -> int:
    return time.hour * 3600 + time.minute * 60


class RotationSpec(BaseModel):
    """A repeating rotation: turn n (from ``start``, ``every`` whole days long) gives each role
    element n mod len of its list, or of its list for the shift when written per shift."""

    model_config = STRICT
    start: Day
    every: PositiveDuration = float(_DAY)
    roles: Annotated[dict[NonEmptyStr, Turns | dict[NonEmptyStr, Turns]], Field(min_length=1)]

    @field_validator("every")
    @classmethod
    def _every_whole_days(cls, value: float) -> float:
        return _whole_days(value, "every")

    def turn(self, day: dt.date) -> int | None:
        """The turn number that covers duty day ``day``; None before the rotation starts."""
        if day < self.start:
            return None
        return (day - self.start).days // int(self.every // _DAY)


class SwapSpec(BaseModel):
    """On duty day ``date``, ``to`` takes every place ``from`` holds (换班/替班)."""

    model_config = STRICT
    date: Day
    from_: NonEmptyStr = Field(alias="from")
    to: NonEmptyStr

    @model_validator(mode="after")
    def _two_people(self) -> SwapSpec:
        if self.from_ == self.to:
            raise ValueError(f"换班的 from 与 to 是同一人 '{self.to}'")
        return self


class RosterSpec(BaseModel):
    """Who holds which role: a rotation, explicit dates that win over it, and swaps."""

    model_config = STRICT
    rotation: RotationSpec | None = None
    dates: dict[Day, dict[NonEmptyStr, Holders | dict[NonEmptyStr, Holders]]] = {}
    swaps: list[SwapSpec] = []


class StaffingSpec(BaseModel):
    """How many people each role needs on the named key dates (every day when none named)."""

    model_config = STRICT
    key_dates: Annotated[list[NonEmptyStr], Field(min_length=1)] | None = None
    roles: Annotated[dict[NonEmptyStr, Annotated[int, Field(ge=1)]], Field(min_length=1)]


class DutySpec(BaseModel):
    """The ``duty:`` section.

    Validation context (all optional, checked only when given): ``notifiers`` (names people's
    channels must be among), ``key_dates`` (names staffing may refer to), ``roles`` (role names
    the roster and staffing may use).
    """

    model_config = STRICT
    people: dict[NonEmptyStr, PersonSpec] = {}
    shifts: Annotated[list[ShiftSpec], Field(min_length=1), AfterValidator(_tile)] = [
        DEFAULT_SHIFT
    ]
    roster: RosterSpec = RosterSpec()
    staffing: list[StaffingSpec] = []
    warn_ahead: Duration = 3.0 * _DAY
    check_in_within: PositiveDuration = 1800.0
    # Who must check in; who is told, in turn, every ``check_in_escalate_every`` after the
    # officer was reminded; who is warned of staffing gaps (yuqingd.runtime.expectations).
    check_in_role: NonEmptyStr = "值班员"
    check_in_escalate: list[NonEmptyStr] = []
    check_in_escalate_every: PositiveDuration = 1800.0
    gaps_notify: list[NonEmptyStr] = []

    @field_validator("warn_ahead")
    @classmethod
    def _warn_whole_days(cls, value: float) -> float:
        return _whole_days(value, "warn_ahead")

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> DutySpec:
        context = info.context if isinstance(info.context, dict) else {}
        problems: list[tuple[Loc, str, Any]] = []
        shift_names = [s.name for s in self.shifts]

        def person(loc: Loc, name: str) -> None:
            if name not in self.people:
                problems.append((loc, f"未登记的人员 '{name}'{did_you_mean(name, self.people)}"
                                 "（人员须先写在 duty.people 中）", name))

        def shift(loc: Loc, name: str) -> None:
            if name not in shift_names:
                problems.append((loc, f"未定义的班次 '{name}'{did_you_mean(name, shift_names)}"
                                 f"（已定义: {'、'.join(shift_names)}）", name))

        def role(loc: Loc, name: str) -> None:
            roles = context.get("roles")
            if roles is not None and name not in roles:
                problems.append((loc, f"配置中未定义角色 '{name}'{did_you_mean(name, roles)}",
                                 name))

        def holders(loc: Loc, value: str | list[str]) -> None:
            if isinstance(value, str):
                person(loc, value)
            else:
                for k, name in enumerate(value):
                    person((*loc, k), name)

        notifiers = context.get("notifiers")
        for name, spec in self.people.items():
            for j, channel in enumerate(spec.channels):
                if notifiers is not None and channel not in notifiers:
                    problems.append((("people", name, "channels", j),
                                     f"未定义的通知渠道 '{channel}'"
                                     f"{did_you_mean(channel, notifiers)}", channel))

        rotation = self.roster.rotation
        for role_name, value in (rotation.roles.items() if rotation else ()):
            loc = ("roster", "rotation", "roles", role_name)
            role(loc, role_name)
            per_shift = value.items() if isinstance(value, dict) else [(None, value)]
            for shift_name, turns in per_shift:
                here = loc if shift_name is None else (*loc, shift_name)
                if shift_name is not None:
                    shift(here, shift_name)
                for i, team in enumerate(turns):
                    holders((*here, i), team)

        for day, assigned in self.roster.dates.items():
            for role_name, dated in assigned.items():
                loc = ("roster", "dates", day.isoformat(), role_name)
                role(loc, role_name)
                for shift_name, names in (dated.items() if isinstance(dated, dict)
                                          else [(None, dated)]):
                    here = loc if shift_name is None else (*loc, shift_name)
                    if shift_name is not None:
                        shift(here, shift_name)
                    holders(here, names)

        for i, swap in enumerate(self.roster.swaps):
            person(("roster", "swaps", i, "from"), swap.from_)
            person(("roster", "swaps", i, "to"), swap.to)

        key_dates = context.get("key_dates")
        for i, need in enumerate(self.staffing):
            for j, name in enumerate(need.key_dates or ()):
                if key_dates is not None and name not in key_dates:
                    problems.append((("staffing", i, "key_dates", j),
                                     f"未定义的重点日期 '{name}'{did_you_mean(name, key_dates)}"
                                     "（重点日期写在规则文件的 calendar 中）", name))
            for role_name in need.roles:
                role(("staffing", i, "roles", role_name), role_name)

        if not problems:  # a swap can only be checked against a roster that makes sense
            for i, swap in enumerate(self.roster.swaps):
                earlier = [s for s in self.roster.swaps[:i] if s.date == swap.date]
                held = [_assignment(self, swap.date, name, earlier) for name in shift_names]
                if not any(swap.from_ in team for roles in held for team in roles.values()):
                    problems.append((("roster", "swaps", i, "from"),
                                     f"'{swap.from_}' 在 {swap.date.isoformat()} 值班日没有排班，"
                                     f"无法换给 '{swap.to}'", swap.from_))
        _fail("DutySpec", problems)
        return self

    # Who receives the duty report at each shift end: these roles' holders in the incoming
    # shift (default: 值班员 and 带班领导, those of them the config knows).
    report_to: list[NonEmptyStr] | None = None


# ---------------------------------------------------------------------------------------------
# Who holds which role


def _team(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(dict.fromkeys(value))


def _assignment(
    spec: DutySpec, day: dt.date, shift: str, swaps: Iterable[SwapSpec]
) -> dict[str, tuple[str, ...]]:
    """Rotation, then the date's explicit roles, then ``swaps`` (those dated ``day``)."""
    held: dict[str, tuple[str, ...]] = {}
    rotation = spec.roster.rotation
    turn = rotation.turn(day) if rotation else None
    if rotation is not None and turn is not None:
        for role, value in rotation.roles.items():
            turns = value.get(shift) if isinstance(value, dict) else value
            if turns:
                held[role] = _team(turns[turn % len(turns)])
    for role, dated in spec.roster.dates.get(day, {}).items():
        if isinstance(dated, dict):
            if shift in dated:
                held[role] = _team(dated[shift])
        else:
            held[role] = _team(dated)
    for swap in swaps:
        if swap.date == day:
            held = {role: _team([swap.to if p == swap.from_ else p for p in team])
                    for role, team in held.items()}
    return {role: team for role, team in held.items() if team}


@dataclass(frozen=True)
class Shift:
    """One shift on one duty day, with its boundaries as aware datetimes."""

    name: str
    start: dt.datetime
    end: dt.datetime
    duty_day: dt.date  # the date the duty day's first shift starts on
    index: int  # position in the duty day, from 0

    @property
    def period(self) -> str:
        """``2026-11-02 08:00+08:00 至 2026-11-03 08:00+08:00``: both ends with their offset."""
        return f"{_shown(self.start)} 至 {_shown(self.end)}"

    def __str__(self) -> str:
        return f"{self.name}（{self.period}）"


def _shown(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


class Handover(NamedTuple):
    """Who hands over (the previous shift's holders) and who takes over, role by role."""

    outgoing: dict[str, list[str]]
    incoming: dict[str, list[str]]


@dataclass(frozen=True)
class Gap:
    """A role in a shift holding fewer people than the day's key dates require."""

    day: dt.date  # duty day
    shift: str
    role: str
    required: int
    assigned: tuple[str, ...]  # the people the roster has in the role
    key_dates: tuple[str, ...]  # the active key dates that require it (empty: every day)

    @property
    def missing(self) -> int:
        return self.required - len(self.assigned)

    def __str__(self) -> str:
        why = f"（{'、'.join(self.key_dates)}）" if self.key_dates else ""
        who = f"：{'、'.join(self.assigned)}" if self.assigned else ""
        return (f"{self.day.isoformat()} {self.shift} {self.role} 需 {self.required} 人{why}，"
                f"排班只有 {len(self.assigned)} 人{who}，缺 {self.missing} 人")


def _zone(moment: dt.datetime) -> dt.tzinfo:
    """The zone of an aware ``moment``; a naive one is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"需要带时区的时间: {moment.isoformat()}")
    return moment.tzinfo


def _instant(moment: dt.datetime) -> float:
    # Aware datetimes sharing a tzinfo compare by wall clock; timestamps compare real instants.
    return moment.timestamp()


class Roster:
    """Answers who is on duty when, which shifts start in a period, and where staffing is short."""

    def __init__(self, duty: DutySpec, calendar: Calendar) -> None:
        self.duty = duty
        self.calendar = calendar
        self._specs = tuple(duty.shifts)
        first = _seconds(self._specs[0].start_time)
        # Days from the duty day's date to each shift's start date, and its wall-clock start.
        starts, offset = [], 0.0
        for spec in self._specs:
            starts.append((int((first + offset) // _DAY), spec.start_time))
            offset += spec.length
        self._starts = tuple(starts)

    # shifts

    def shifts_on(self, day: dt.date, tz: dt.tzinfo) -> list[Shift]:
        """The shifts of duty day ``day``, in order, with boundaries in ``tz``."""
        bounds = [dt.datetime.combine(day + dt.timedelta(days=d), t, tzinfo=tz)
                  for d, t in self._starts]
        bounds.append(dt.datetime.combine(day + dt.timedelta(days=1), self._starts[0][1],
                                          tzinfo=tz))
        return [Shift(spec.name, bounds[i], bounds[i + 1], day, i)
                for i, spec in enumerate(self._specs)]

    def shift_at(self, moment: dt.datetime) -> Shift:
        """The shift ``moment`` falls in (start included, end excluded), in ``moment``'s zone."""
        _zone(moment)
        at = _instant(moment)
        for day in (moment.date() - dt.timedelta(days=1), moment.date()):
            for shift in self.shifts_on(day, _zone(moment)):
                if _instant(shift.start) <= at < _instant(shift.end):
                    return shift
        raise AssertionError(f"no shift covers {moment.isoformat()}")  # shifts tile the day

    def shift_after(self, shift: Shift) -> Shift:
        """The shift that takes over when ``shift`` ends."""
        if shift.index + 1 < len(self._specs):
            return self.shifts_on(shift.duty_day, _zone(shift.start))[shift.index + 1]
        return self.shifts_on(shift.duty_day + dt.timedelta(days=1), _zone(shift.start))[0]

    def shift_before(self, shift: Shift) -> Shift:
        """The shift that hands over to ``shift``."""
        if shift.index > 0:
            return self.shifts_on(shift.duty_day, _zone(shift.start))[shift.index - 1]
        return self.shifts_on(shift.duty_day - dt.timedelta(days=1), _zone(shift.start))[-1]

    def shift_starts_between(self, after: dt.datetime, until: dt.datetime) -> list[Shift]:
        """Shifts starting in (``after``, ``until``], in order, in ``after``'s zone: a caller
        waking at a shift start and passing its previous wake-up time sees each start once."""
        _zone(until)
        until_at = _instant(until)
        found = []
        shift = self.shift_after(self.shift_at(after))
        while _instant(shift.start) <= until_at:
            found.append(shift)
            shift = self.shift_after(shift)
        return found

    def check_in_due(self, shift: Shift) -> dt.datetime:
        """When the officer of ``shift`` must have checked in by."""
        return shift.start + dt.timedelta(seconds=self.duty.check_in_within)

    # people

    def holders(self, shift: Shift) -> dict[str, list[str]]:
        """Role → people holding it in ``shift`` (roles nobody holds are left out)."""
        held = _assignment(self.duty, shift.duty_day, shift.name, self.duty.roster.swaps)
        return {role: list(team) for role, team in held.items()}

    def on_duty(self, moment: dt.datetime) -> dict[str, list[str]]:
        """Role → people on duty at ``moment``."""
        return self.holders(self.shift_at(moment))

    def handover(self, shift: Shift) -> Handover:
        """The handover at the start of ``shift``: the previous shift's holders, and its own."""
        return Handover(self.holders(self.shift_before(shift)), self.holders(shift))

    def channels(self, person: str) -> list[str]:
        """The notifier names that reach ``person``."""
        return list(self.duty.people[person].channels)

    def fallback_after(self, person: str) -> float | None:
        """How long ``person``'s current channel may fail before the next is used (None: all
        their channels are used at once)."""
        return self.duty.people[person].fallback_after

    # staffing

    def required(self, day: dt.date) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Role → (people required on duty day ``day``, the key dates requiring it)."""
        active = list(dict.fromkeys(a.name for a in self.calendar.active_on(day)))
        need: dict[str, tuple[int, tuple[str, ...]]] = {}
        for entry in self.duty.staffing:
            if entry.key_dates is None:
                because: tuple[str, ...] = ()  # an every-day requirement
            else:
                because = tuple(name for name in active if name in entry.key_dates)
                if not because:
                    continue
            for role, count in entry.roles.items():
                if count > need.get(role, (0, ()))[0]:
                    need[role] = (count, because)
        return need

    def gaps(self, day: dt.date) -> list[Gap]:
        """Roles that some shift of duty day ``day`` staffs below what its key dates require."""
        need = self.required(day)
        out = []
        for spec in self._specs:
            held = _assignment(self.duty, day, spec.name, self.duty.roster.swaps)
            for role, (count, because) in need.items():
                team = held.get(role, ())
                if len(team) < count:
                    out.append(Gap(day, spec.name, role, count, team, because))
        return out

    def gap_warnings(self, today: dt.date) -> list[Gap]:
        """Gaps on duty days from ``today`` to ``warn_ahead`` days later, soonest first."""
        return [gap for day in self._days(today, int(self.duty.warn_ahead // _DAY))
                for gap in self.gaps(day)]

    @staticmethod
    def _days(first: dt.date, more: int) -> Iterator[dt.date]:
        for n in range(more + 1):
            yield first + dt.timedelta(days=n)
