"""Expectations of people: the duty check-in and sub-units' submissions; roster gap warnings.

An expectation is one row (table ``expectations``): what is expected (``kind``, ``subject``),
of whom (``role``, ``who``), by when (``due_at``), and a ladder of steps fixed at creation
(remind, then escalate role by role) with the number of steps done (``level``). Missing the due
time is recorded once (``missed_at``, ``missed_who``: who held it, for accountability); each step
is done once, in its own transaction together with its notifications, so a restart neither
repeats nor loses one.

What fell due while the daemon was down does not burst at start: several steps of one ladder due
at once are one message. A submission sends the latest step due (earlier ones are marked
skipped); a check-in, whose officer could not check in while the daemon was down, gets the next
step now and the rest of its ladder at the usual spacing from now. A shift that ended while the
daemon was down expected nothing (state ``skipped``, event ``expectation.skipped``).

Expectations are created as their time comes, from cursors kept in the store: a check-in for
each holder of the check-in role at each shift start (and for a stand-in when a reload changes
the current shift's holders); a submission for each unit when the previous due time passes (or
when the section first appears). A section that is absent from the config drops its cursor, so
putting it back does not replay the time it was absent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import structlog

from yuqingd.events import Events
from yuqingd.located import did_you_mean
from yuqingd.model import Action
from yuqingd.runtime.obligations import DAEMON_DOWN, KINDS, catch_up, excuse, record_miss
from yuqingd.runtime.outreach import Outreach
from yuqingd.runtime.roster import DutySpec, Roster, Shift
from yuqingd.runtime.submissions import SubmissionSpec
from yuqingd.store.api import ExpectationRow, LadderStep, Store
from yuqingd.time.clock import Clock
from yuqingd.time.durations import format_duration_zh

log = structlog.get_logger("yuqingd.expectations")

CHECK_IN = "check_in"
SUBMISSION = "submission"
_GAPS = "gaps"  # cursor: when staffing gaps were last looked for


class ExpectationError(Exception):
    """A check-in or submission that cannot be recorded; the message is for the person."""


class Expectations:
    """The Timed part (see yuqingd.scheduler) for check-ins, submissions and gap warnings."""

    def __init__(self, store: Store, clock: Clock, outreach: Outreach,
                 events: Events | None = None):
        self.store = store
        self.clock = clock
        self.outreach = outreach
        self.events = events or Events()
        self.roster: Roster | None = None
        self.duty: DutySpec | None = None
        self.submissions: dict[str, SubmissionSpec] = {}
        self.up: float | None = None  # when this process began: earlier was downtime

    def configure(self, roster: Roster | None, submissions: tuple[SubmissionSpec, ...],
                  now: float) -> None:
        """Take a (re)loaded config. Generators start from now the first time they are seen;
        expectations already created keep their ladder."""
        if self.up is None:
            self.up = now
        self.roster = roster
        self.duty = roster.duty if roster is not None else None
        self.submissions = {s.name: s for s in submissions}
        with self.store.transaction():
            # A section left out stops its generator: putting it back must not replay the gap.
            kept = {_submission_cursor(s) for s in submissions} | (
                {CHECK_IN, _GAPS} if roster is not None else set())
            for name in self.store.expectation_cursor_names():
                if name not in kept:
                    self.store.drop_expectation_cursor(name)
                    log.info("expectation.cursor_dropped", generator=name)
            if roster is not None and self.store.expectation_cursor(CHECK_IN) is None:
                # A second back: a shift starting right now (a simulation's first line) counts.
                self.store.set_expectation_cursor(CHECK_IN, now - 1)
            for spec in submissions:
                if self.store.expectation_cursor(_submission_cursor(spec)) is None:
                    self._open_period(spec, spec.due.next_after(self._dt(now)).timestamp(), now)
            if roster is not None:
                self._follow_swaps(now)
                self._warn_gaps(now)  # the roster may have changed

    # Timed ----------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        times = [self.store.next_expectation_at()]
        if self.roster is not None:
            times.append(self._next_shift_start())
            times.append(self._next_gap_check())
        for spec in self.submissions.values():
            times.append(self.store.expectation_cursor(_submission_cursor(spec)))
        return min((t for t in times if t is not None), default=None)

    def fire_due(self, now: float) -> bool:
        acted = False
        with self.store.transaction():
            if self.roster is not None:
                acted |= self._open_check_ins(now)
                gap_check = self._next_gap_check()
                if gap_check is not None and gap_check <= now:
                    acted |= self._warn_gaps(now)
            for spec in self.submissions.values():
                due = self.store.expectation_cursor(_submission_cursor(spec))
                while due is not None and due <= now:  # one period at a time, in order
                    acted |= self._open_period(spec, spec.due.next_after(self._dt(due))
                                               .timestamp(), now)
                    due = self.store.expectation_cursor(_submission_cursor(spec))
            for row in self.store.due_expectations(now):
                self._advance(row, now)
                acted = True
        return acted

    # creating -------------------------------------------------------------------------------

    def _next_shift_start(self) -> float | None:
        last = self.store.expectation_cursor(CHECK_IN)
        if last is None or self.roster is None:
            return None
        return self.roster.shift_after(self.roster.shift_at(self._dt(last))).start.timestamp()

    def _open_check_ins(self, now: float) -> bool:
        last = self.store.expectation_cursor(CHECK_IN)
        assert self.roster is not None and self.duty is not None and last is not None
        shifts = self.roster.shift_starts_between(self._dt(last), self._dt(now))
        for shift in shifts:
            ended = shift.end.timestamp() <= now  # began and ended while the daemon was down
            for person in self.roster.holders(shift).get(self.duty.check_in_role, []):
                if not ended:
                    self._add_check_in(shift, person, shift.start.timestamp())
                elif self._add_check_in(shift, person, now, skipped=True):
                    self._skipped(self.store.expectation(CHECK_IN,
                                                         _check_in_subject(shift, person)), now)
        if shifts:
            self.store.set_expectation_cursor(CHECK_IN, now)
        return bool(shifts)

    def _follow_swaps(self, now: float) -> None:
        """After a (re)load: expect a check-in of whoever holds the role in the current shift
        now, when that shift's check-ins are open already (a swap made after it began)."""
        assert self.roster is not None and self.duty is not None
        shift = self.roster.shift_at(self._dt(now))
        if not self.store.expectations(CHECK_IN, _check_in_subject(shift, "")):
            return  # not opened yet (or begun before the daemon first ran)
        for person in self.roster.holders(shift).get(self.duty.check_in_role, []):
            row = self.store.expectation(CHECK_IN, _check_in_subject(shift, person))
            if row is None:
                self._add_check_in(shift, person, now)
                log.info("expectation.stand_in", subject=_check_in_subject(shift, person))
            elif row["state"] != "met" and row["next_at"] is None:
                self._rearm(row)  # back on the shift after being swapped out

    def _rearm(self, row: ExpectationRow) -> None:
        ladder = row.ladder
        later = ([] if row.missed_at is not None else [row.due_at]) + [
            s.at for s in ladder[row.level:row.level + 1]]
        if later:
            self.store.update_expectation(row["id"], next_at=min(later))

    def _add_check_in(self, shift: Shift, person: str, at: float, *,
                      met: bool = False, note: str = "", skipped: bool = False) -> bool:
        assert self.roster is not None and self.duty is not None
        due = self.roster.check_in_due(shift).timestamp()
        every = self.duty.check_in_escalate_every
        ladder = [_step(due, "remind", people=[person])] + [
            _step(due + k * every, "escalate", roles=[role])
            for k, role in enumerate(self.duty.check_in_escalate, start=1)]
        state = "met" if met else "skipped" if skipped else "pending"
        return self.store.add_expectation(
            kind=CHECK_IN, subject=_check_in_subject(shift, person),
            title=f"值班签到：{shift}", role=self.duty.check_in_role, who=person, due_at=due,
            ladder=ladder, at=at, state=state, met_by=person if met else None,
            note=_DOWN if skipped else note)

    def _open_period(self, spec: SubmissionSpec, due: float, now: float) -> bool:
        """Expect every unit's submission for the period ending at ``due``."""
        steps = [_step(due + k * spec.escalate_every, "escalate", roles=[role])
                 for k, role in enumerate(spec.escalate)]
        day = self._dt(due).date().isoformat()
        for unit in spec.units:
            remind = ([_step(due - spec.remind_before, "remind", people=unit.contacts,
                             roles=[] if unit.contacts else spec.escalate[:1])]
                      if spec.remind_before else [])
            self.store.add_expectation(
                kind=SUBMISSION, subject=f"{spec.name}/{unit.name}/{day}",
                title=f"{unit.name} 报送{spec.name}", role=unit.name,
                who="、".join(unit.contacts) or unit.name, due_at=due, ladder=remind + steps,
                at=now)
        self.store.set_expectation_cursor(_submission_cursor(spec), due)
        return True

    # the ladder -----------------------------------------------------------------------------

    def _advance(self, row: Any, now: float) -> None:
        """Record the miss and do the ladder step due at ``now``; steps that came due together
        (the daemon was down) are one message, not a burst."""
        if row["kind"] == CHECK_IN and self._check_in_moot(row, now):
            return
        missed = row.missed_at is not None
        # A check-in's officer is still expected: go on from now; a submission is still owed:
        # say the latest step, not every step missed (yuqingd.runtime.obligations.catch_up).
        steps, level, due = catch_up(row.ladder, row.level, now, KINDS[row.kind].catch_up)
        ladder = list(steps)
        if due > 1:
            log.info("expectation.caught_up", what=row["kind"], subject=row["subject"],
                     steps=due)
        while True:
            step_at = ladder[level].at if level < len(ladder) else None
            # At a tie the miss comes first: a check-in's reminder is sent at its due time.
            if not missed and row["due_at"] <= now and (step_at is None
                                                        or row["due_at"] <= step_at):
                self._missed(row, level, now)
                missed = True
            elif step_at is not None and step_at <= now:
                level += 1
                self._step(row, ladder[level - 1], level, now)
            else:
                break
        later = ([] if missed else [row.due_at]) + [s.at for s in ladder[level:level + 1]]
        self.store.update_expectation(row.id, level=level, next_at=min(later, default=None),
                                      ladder=ladder)

    def _check_in_moot(self, row: Any, now: float) -> bool:
        """A check-in whose shift ended while the daemon was down, or whose person no longer
        holds the role in it (a swap), gets no step; True when that is so."""
        shift = self._shift_of(row)
        if shift is None or self.roster is None:
            return False
        if self.up is not None and shift.end.timestamp() <= self.up:
            if row["missed_at"] is None:
                self.store.update_expectation(row["id"], state="skipped", next_at=None,
                                              note=_DOWN)
                self._skipped(row, now)
            else:  # missed before the daemon went down: what is left of the ladder is moot
                self.store.update_expectation(row["id"], next_at=None)
            return True
        if row["who"] not in self.roster.holders(shift).get(row["role"], []):
            self.store.update_expectation(row["id"], next_at=None)
            log.info("expectation.not_on_shift", subject=row["subject"], who=row["who"])
            return True
        return False

    def _skipped(self, row: Any, now: float) -> None:
        self.events.emit("expectation.skipped", now, what=row["kind"], subject=row["subject"],
                         role=row["role"], who=row["who"], reason="daemon_down")
        log.warning("expectation.skipped", what=row["kind"], subject=row["subject"],
                    who=row["who"], reason="daemon_down")

    def _shift_of(self, row: Any) -> Shift | None:
        """The shift a check-in row is for, as the current roster has it."""
        if self.roster is None:
            return None
        day, name = row["subject"].split("/")[:2]
        zone = self._dt(row["due_at"]).tzinfo
        assert zone is not None
        found = [s for s in self.roster.shifts_on(dt.date.fromisoformat(day), zone)
                 if s.name == name]
        return found[0] if found else None

    def _missed(self, row: Any, level: int, now: float) -> None:
        who = row["who"]
        # A check-in due while the daemon was down could not be made (nothing listened): the
        # miss is recorded, but not held against the officer (问责).
        reason = excuse(row.kind, row.due_at, up=self.up)
        down = reason == DAEMON_DOWN
        record_miss(self.store, kind=row.kind, subject=row.subject, title=row.title,
                    due_at=row.due_at, at=now, role=row.role, who=who, level=level,
                    reason=reason)
        self.store.update_expectation(row["id"], state="missed", missed_at=now, missed_who=who)
        self.events.emit("expectation.missed", now, what=row["kind"], subject=row["subject"],
                         role=row["role"], who=who, level=level,
                         **({"while_down": True} if down else {}))
        log.warning("expectation.missed", what=row["kind"], subject=row["subject"], who=who)

    def _step(self, row: ExpectationRow, step: LadderStep, level: int, now: float) -> None:
        event = "expectation.reminded" if step.action == "remind" else "expectation.escalated"
        text = _text(row, step.action, self.clock, now)
        label = "签到" if row["kind"] == CHECK_IN else "报送"
        self.outreach.send(kind=event, ident=f"expectation:{row['kind']}:{row['subject']}",
                           roles=list(step.roles), people=list(step.people), text=text, at=now,
                           tag=f"L{level}", title=row["title"], key=row["subject"],
                           level=level,
                           deadlines=(self.outreach.due(row["kind"], label, row["due_at"]),),
                           actions=_actions(row) if step.action == "remind" else ())
        self.events.emit(event, now, what=row["kind"], subject=row["subject"], role=row["role"],
                         who=row["who"], level=level, to=[*step.roles, *step.people])

    def _meet(self, row: Any, by: str, note: str, now: float) -> dict[str, Any]:
        late = now > row["due_at"]
        self.store.update_expectation(row["id"], state="met", met_at=now, met_by=by, note=note,
                                      next_at=None)
        self.events.emit("expectation.met", now, what=row["kind"], subject=row["subject"],
                         role=row["role"], by=by, late=late)
        told = [s for s in row.ladder[:row.level] if not s.skipped]
        if told:  # those reminded or escalated to learn it is done
            self.outreach.send(
                kind="expectation.met", ident=f"expectation:{row['kind']}:{row['subject']}",
                roles=sorted({r for s in told for r in s.roles}),
                people=sorted({p for s in told for p in s.people}),
                text=f"【已办结】{row['title']}：{by} 已于 {self.clock.format(now)} 完成"
                     f"（{'逾期' if late else '按时'}）。", at=now, tag="met", title=row["title"],
                key=row["subject"])
        return {"subject": row["subject"], "late": late, "due": self.clock.format(row["due_at"]),
                "at": self.clock.format(now)}

    # commands -------------------------------------------------------------------------------

    def check_in(self, by: str, note: str, now: float) -> dict[str, Any]:
        """``by`` checks in for the shift on now; they must hold the check-in role in it."""
        if self.roster is None or self.duty is None:
            raise ExpectationError("未配置值班表（duty:），无需签到")
        shift = self.roster.shift_at(self._dt(now))
        role = self.duty.check_in_role
        holders = self.roster.holders(shift).get(role, [])
        if by not in holders:
            on_duty = "、".join(holders) or "无人"
            raise ExpectationError(f"{by} 不是当前班次 {shift}的{role}，当前{role}：{on_duty}")
        with self.store.transaction():
            row = self.store.expectation(CHECK_IN, _check_in_subject(shift, by))
            if row is None:  # the shift began before the daemon first ran
                self._add_check_in(shift, by, now, met=True, note=note)
                self.events.emit("expectation.met", now, what=CHECK_IN,
                                 subject=_check_in_subject(shift, by), role=role, by=by,
                                 late=False)
                reply = {"subject": _check_in_subject(shift, by), "late": False,
                         "already": False, "at": self.clock.format(now)}
            elif row["state"] == "met":
                reply = {"subject": row["subject"], "late": row["met_at"] > row["due_at"],
                         "already": True, "at": self.clock.format(row["met_at"])}
            else:
                reply = {**self._meet(row, by, note, now), "already": False}
            # Whoever was swapped out of the shift is covered by this check-in.
            stood_in = []
            for other in self.store.expectations(CHECK_IN, _check_in_subject(shift, "")):
                if other["state"] in ("pending", "missed") and other["who"] not in holders:
                    self._meet(other, by, f"由{by}替班签到（{other['who']}已换班）"
                               + (f"；{note}" if note else ""), now)
                    stood_in.append(other["who"])
            return {**reply, "stood_in_for": stood_in}

    def submit(self, unit: str, by: str, what: str | None, period: str | None, note: str,
               now: float) -> dict[str, Any]:
        """Record ``unit``'s submission: for ``period`` (the due date), else the earliest one
        not yet submitted (late when its due time has passed)."""
        spec = self._submission(what)
        if spec.unit(unit) is None:
            names = [u.name for u in spec.units]
            raise ExpectationError(f"'{spec.name}' 没有单位 '{unit}'{did_you_mean(unit, names)}"
                                   f"（单位: {'、'.join(names)}）")
        with self.store.transaction():
            rows = self.store.expectations(SUBMISSION, f"{spec.name}/{unit}/")
            if period:
                rows = [r for r in rows if r["subject"].endswith(f"/{period}")]
            open_rows = [r for r in rows if r["state"] != "met"]
            if not open_rows:
                when = f" {period} " if period else ""
                raise ExpectationError(f"{unit} 的{spec.name}{when}没有待报送的期次")
            return {**self._meet(open_rows[0], by, note, now), "what": spec.name}

    def _submission(self, what: str | None) -> SubmissionSpec:
        if what:
            if what not in self.submissions:
                hint = did_you_mean(what, self.submissions)
                raise ExpectationError(f"未定义的报送 '{what}'{hint}")
            return self.submissions[what]
        if not self.submissions:
            raise ExpectationError("配置中没有定义报送（submissions:，见 docs/duty.md），"
                                   "无需登记")
        if len(self.submissions) != 1:
            known = "、".join(self.submissions)
            raise ExpectationError(f"请用 --what 指明报送名称（已定义: {known}）")
        return next(iter(self.submissions.values()))

    # staffing gaps --------------------------------------------------------------------------

    def _next_gap_check(self) -> float | None:
        last = self.store.expectation_cursor(_GAPS)
        if last is None:
            return None
        moment = self._dt(last)
        midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(),
                                       tzinfo=moment.tzinfo)
        return midnight.timestamp()

    def _warn_gaps(self, now: float) -> bool:
        """Warn once about each gap from today to ``warn_ahead`` days later."""
        assert self.roster is not None and self.duty is not None
        self.store.set_expectation_cursor(_GAPS, now)
        warned = False
        for gap in self.roster.gap_warnings(self._dt(now).date()):
            key = f"{gap.day.isoformat()}/{gap.shift}/{gap.role}"
            if not self.store.mark_gap_warned(key, now):
                continue
            warned = True
            self.events.emit("duty.gap", now, day=gap.day.isoformat(), shift=gap.shift,
                             role=gap.role, required=gap.required, assigned=list(gap.assigned),
                             key_dates=list(gap.key_dates))
            log.warning("duty.gap", gap=str(gap))
            self.outreach.send(
                kind="duty.gap", ident=f"gap:{key}", roles=list(self.duty.gaps_notify),
                text=f"【排班缺口预警】{gap}。请调整排班（duty.roster）。", at=now, tag="warn",
                title="排班缺口预警", key=key)
        return warned

    def _dt(self, epoch: float) -> dt.datetime:
        return self.clock.to_datetime(epoch)


_DOWN = "服务停止期间的班次，未要求签到"


def _submission_cursor(spec: SubmissionSpec) -> str:
    """Cursor: the due time of the latest period opened for ``spec``."""
    return f"submission:{spec.name}"


def _check_in_subject(shift: Shift, person: str) -> str:
    return f"{shift.duty_day.isoformat()}/{shift.name}/{person}"


def _step(at: float, action: str, *, roles: Sequence[str] = (), people: Sequence[str] = ()
          ) -> LadderStep:
    return LadderStep(at=at, action=action, roles=tuple(roles), people=tuple(people))


def _actions(row: Any) -> tuple[Action, ...]:
    """What a reminder asks for, as its text gives the command."""
    if row["kind"] == CHECK_IN:
        return (Action("check_in", "签到", f"yuqingd check-in --by {row['who']}"),)
    return (Action("submit", "报送", f"yuqingd submit --unit {row['role']} --by 姓名"),)


def _text(row: Any, action: str, clock: Clock, now: float) -> str:
    due = clock.format(row["due_at"])
    if row["kind"] == CHECK_IN:
        if action == "remind":
            return (f"【值班签到提醒】{row['who']}：{row['title']}，应于 {due} 前签到，尚未签到。"
                    f"请执行 yuqingd check-in --by {row['who']}")
        return (f"【未按时签到】{row['title']}：{row['role']} {row['who']} 未在 {due} 前签到"
                f"（已逾期{format_duration_zh(now - row['due_at'])}），请督促或安排替班。")
    if action == "remind":
        return (f"【报送提醒】{row['title']}，截止 {due}，尚未收到。报送后请执行 "
                f"yuqingd submit --unit {row['role']} --by 姓名")
    return (f"【逾期未报】{row['title']}，截止 {due}，至今未报"
            f"（已逾期{format_duration_zh(max(now - row['due_at'], 0))}），请催报。")
