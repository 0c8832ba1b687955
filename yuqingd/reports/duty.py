"""The duty report (值班报告): one shift as the outgoing officer would write it by hand — the
period, the platforms monitored and their health, new major negative items, notable positive
items, incidents and their handling, the handover note and the officers — as Markdown and HTML.

Like the weekly briefing it is a pure function of the store and the period: the store says what
belongs to the shift (:meth:`yuqingd.store.api.Store.shift_data`); this module adds the daemon's
view of each source and the officers, and renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yuqingd.reports import misses, weekly
from yuqingd.reports.periods import Period
from yuqingd.reports.weekly import IncidentSummary
from yuqingd.severity import at_least, rank
from yuqingd.store.api import HandoverNoteRow as Note
from yuqingd.store.api import MissRow as Miss
from yuqingd.store.api import ShiftItem as ReportItem
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

MAJOR_LIMIT = 20
POSITIVE_LIMIT = 10
MAJOR = "较大"  # and above: the items a duty report lists


@dataclass(frozen=True)
class SourceHealth:
    """One monitored platform in the shift."""

    name: str
    count: int  # items found in the shift
    negative: int
    last_at: float | None  # its last item found up to the shift's end
    dead_letters: int  # items that failed processing in the shift
    state: str  # 正常 | 本班次无新信息 | 异常：… (in Chinese, for the table)


@dataclass(frozen=True)
class CheckIn:
    """One officer's check-in of the shift, as the report says it."""

    who: str
    state: str  # on_time | late | missed | pending
    due_at: float
    at: float | None  # when they checked in (None: not yet)


CHECK_IN_STATES = {"on_time": "按时签到", "late": "迟到签到", "missed": "未签到",
                   "pending": "尚未签到"}


@dataclass(frozen=True)
class DutyData:
    """Everything a duty report shows for ``period``."""

    period: Period
    total: int
    sources: tuple[SourceHealth, ...]
    major: tuple[ReportItem, ...]
    major_total: int
    positive: tuple[ReportItem, ...]
    positive_total: int
    incidents: tuple[IncidentSummary, ...]
    notes: tuple[Note, ...]
    officers: tuple[tuple[str, tuple[str, ...]], ...]  # (role, people) as the roster has them
    misses: tuple[Miss, ...] = ()  # obligations missed in the shift (问责)
    check_ins: tuple[CheckIn, ...] = ()  # the shift's officers' check-ins, by due time

    @property
    def opened(self) -> tuple[IncidentSummary, ...]:
        return tuple(i for i in self.incidents if not i.carried_over)

    @property
    def unclosed(self) -> tuple[IncidentSummary, ...]:
        return tuple(i for i in self.incidents if i.status != "closed")


def collect_duty(
    store: Store,
    period: Period,
    *,
    sources: Sequence[str] = (),
    health: Mapping[str, str] | None = None,
    officers: Mapping[str, Sequence[str]] | None = None,
) -> DutyData:
    """Read what the duty report for ``period`` shows. ``sources``: the configured source
    names (shown even when silent); ``health``: the running daemon's view of each source
    (None in simulation: the store alone tells); ``officers``: role → people of the shift."""
    shift = store.shift_data(period.start, period.end, period.id, sources)
    dead = {s.name: s.dead_letters for s in shift.sources}
    table = [SourceHealth(s.name, s.count, s.negative, s.last_at, s.dead_letters,
                          _state(s.name, s.count, dead, health)) for s in shift.sources]
    opened_here = {i.id for i in shift.incidents if not i.carried_over}
    major = [
        item for item in shift.negative
        if at_least(item.severity, MAJOR) or item.incident in opened_here
    ]
    major.sort(key=lambda i: (-rank(i.severity, unknown=0), i.at))
    positive = sorted(shift.positive, key=lambda i: (-i.engagement, i.at))
    notes = shift.notes
    return DutyData(
        period=period,
        total=sum(s.count for s in shift.sources),
        sources=tuple(table),
        major=tuple(major[:MAJOR_LIMIT]),
        major_total=len(major),
        positive=tuple(positive[:POSITIVE_LIMIT]),
        positive_total=len(positive),
        incidents=shift.incidents,
        notes=notes,
        officers=tuple((role, tuple(people)) for role, people in (officers or {}).items()),
        misses=shift.misses,
        check_ins=_check_ins(store, period),
    )


def _check_ins(store: Store, period: Period) -> tuple[CheckIn, ...]:
    """The check-ins owed for the shift (none without a roster's shift, or when nobody has
    to check in); an officer excused from it (not on the shift after all) is left out."""
    if period.shift is None:
        return ()
    out = []
    for row in store.expectations("check_in", prefix=f"{period.id}/"):
        if row.state == "skipped":
            continue
        if row.met_at is not None:
            state = "late" if row.met_at > row.due_at else "on_time"
        else:
            state = "missed" if row.state == "missed" else "pending"
        out.append(CheckIn(row.met_by or row.who, state, row.due_at, row.met_at))
    return tuple(out)


def _state(name: str, count: int, dead: Mapping[str, int],
           health: Mapping[str, str] | None) -> str:
    if health is not None and name in health:
        return health[name]
    if dead.get(name):
        return "有处理错误"
    return "正常" if count else "本班次无新信息"


def render_duty(data: DutyData, clock: Clock, unit_name: str = "教育局") -> tuple[str, str]:
    """The duty report as (Markdown, self-contained HTML)."""
    start = clock.to_datetime(data.period.start)
    offset = start.strftime("%z") or "+0000"
    shift = data.period.shift
    context = {
        "data": data,
        "unit": unit_name,
        "day": weekly._day(shift.duty_day if shift else start.date()),
        "shift_name": shift.name if shift else "",
        "offset": f"UTC{offset[:3]}:{offset[3:5]}",
        "zone": str(clock.tz),
        "t": clock.format,
        "actor": weekly._actor,
        "status": weekly._status,
        "action": weekly._action,
        "role": weekly._role,
        "note": weekly._note,
        "miss_what": misses.what,
        "miss_holder": misses.holder,
        "miss_held": misses.held,
        "miss_late": misses.late_record,
        "check_in_state": CHECK_IN_STATES,
        # Timeline entries within the shift, with their index in the whole timeline.
        "steps": lambda incident: [(k, e) for k, e in enumerate(incident.timeline)
                                   if data.period.start <= e.at < data.period.end],
        "silenced": lambda incident: sum(data.period.start <= at < data.period.end
                                         for at in incident.silenced),
    }
    env = weekly._environment()
    return (env.get_template("duty.md.j2").render(context),
            env.get_template("duty.html.j2").render(context))
