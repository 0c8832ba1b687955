"""Reports in the running daemon: a duty report at every shift end (a Timed part of the
scheduler), and the reports scheduled rules ask for (``then.report``).

Each report is rendered once per period and kept (``reports`` table); keeping it, delivering
it and moving the shift-end mark happen in one transaction, so neither a restart nor a SIGKILL
makes or sends it twice, and a shift that ended while the daemon was down is reported at start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from yuqingd.events import Events
from yuqingd.reports import periods
from yuqingd.reports.duty import collect_duty, render_duty
from yuqingd.reports.labels import REPORT_KINDS
from yuqingd.reports.periods import Period
from yuqingd.reports.weekly import collect_weekly, render_weekly
from yuqingd.runtime.outreach import Outreach
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.reports")

MARK = "#duty-report"  # schedule_state key (never a rule id): shift ends reported up to here
DEFAULT_REPORT_TO = ("值班员", "带班领导")
MAX_CATCH_UP = 8  # after a long outage, report at most this many missed shifts
MAX_TEXT = 3500  # characters of Markdown in a notification; the kept report is whole
KIND_NAMES = REPORT_KINDS


def render(store: Store, config: Any, clock: Clock, period: Period,
           health: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Render the report of ``period`` from the store as it is now: (Markdown, HTML)."""
    if period.kind == "weekly":
        end = clock.to_datetime(period.end).date()
        calendar = config.ruleset.calendar
        key_dates = dict.fromkeys(
            a.name for n in range(7) for a in calendar.active_on(end + dt.timedelta(days=n)))
        return render_weekly(collect_weekly(store, period.start, period.end), clock,
                             key_dates=list(key_dates), unit_name=config.unit)
    roster = config.roster
    officers = roster.holders(period.shift) if roster is not None and period.shift else None
    data = collect_duty(store, period, sources=[s.name for s in config.sources],
                        health=health, officers=officers)
    return render_duty(data, clock, unit_name=config.unit)


def current_period(config: Any, clock: Clock, now: float) -> Period:
    """The duty period ``now`` falls in: its shift, or its day without a roster."""
    moment = clock.to_datetime(now)
    if config.roster is not None:
        return periods.of_shift(config.roster.shift_at(moment))
    return periods.of_day(moment.date(), clock.tz)


def notification_text(markdown: str, period: Period) -> str:
    """The report as a notification: whole when short, else cut at a line with a pointer to
    the kept report."""
    if len(markdown) <= MAX_TEXT:
        return markdown
    cut = markdown.rfind("\n", 0, MAX_TEXT)
    flag = "--shift" if period.kind == "duty" else "--week"
    return (markdown[: cut if cut > 0 else MAX_TEXT].rstrip() + "\n\n……（内容较长，全文请用 "
            f"yuqingd report {period.kind} {flag} {period.id} 查看）\n")


def source_health(supervisor: Any) -> dict[str, str]:
    """The running sources' health, as the duty report's table says it."""
    health = supervisor.health if supervisor is not None else {}
    return {name: "正常" if h.healthy else f"异常：{h.last_error or '无响应'}"
            for name, h in health.items()}


class Reports:
    """The reports part of the daemon: ``configure`` on start and reload, ``next_due`` and
    ``fire_due`` for the scheduler, ``scheduled`` for rules."""

    def __init__(self, store: Store, clock: Clock, outreach: Outreach, events: Events):
        self.store = store
        self.clock = clock
        self.outreach = outreach
        self.events = events
        self.config: Any = None
        self.health: Callable[[], Mapping[str, str]] | None = None  # live sources, if any

    def configure(self, config: Any, now: float) -> None:
        """Take a (re)loaded config. Shift ends are reported from the first start with a
        roster on (not for shifts that ended before yuqingd knew of them)."""
        self.config = config
        if config.duty is not None and config.duty.report_to is not None:
            directory = config.directory(self.clock)
            for role in config.duty.report_to:
                if not directory.knows(role):
                    log.warning("report.unknown_role", role=role)  # nobody would receive it
        if config.roster is not None and self.store.schedule_last(MARK) is None:
            with self.store.transaction():
                self.store.set_schedule_last(MARK, now)

    # shift ends ---------------------------------------------------------------------------

    def next_due(self) -> float | None:
        roster = self.config.roster if self.config is not None else None
        last = self.store.schedule_last(MARK)
        if roster is None or last is None:
            return None
        return float(roster.shift_at(self.clock.to_datetime(last)).end.timestamp())

    def fire_due(self, now: float) -> bool:
        """Report every shift that ended by ``now`` and is not yet reported, oldest first."""
        due = self.next_due()
        if due is None or due > now:
            return False
        roster = self.config.roster
        ended = []
        while due is not None and due <= now:
            ended.append(roster.shift_at(self.clock.to_datetime(due - 1)))
            due = roster.shift_after(ended[-1]).end.timestamp()
        if len(ended) > MAX_CATCH_UP:  # a long outage: old shifts are not worth a message
            log.warning("report.catch_up_skipped", shifts=len(ended) - MAX_CATCH_UP)
            ended = ended[-MAX_CATCH_UP:]
        for shift in ended:
            period = periods.of_shift(shift)
            with self.store.transaction():
                self._make(period, now)
                self._deliver(period, now, roles=self._report_to(), channels=(), tag="handover",
                              at=period.end)
                self.store.set_schedule_last(MARK, period.end)
        return True

    def _report_to(self) -> list[str]:
        explicit = self.config.duty.report_to
        if explicit is not None:
            return list(explicit)
        directory = self.config.directory(self.clock)
        return [role for role in DEFAULT_REPORT_TO if directory.knows(role)]

    def handover(self, shift: str, by: str, note: str, now: float) -> None:
        """``yuqingd handover``: the outgoing officer's note for ``shift``'s duty report."""
        with self.store.transaction():
            self.store.set_handover_note(shift, by, note, now)
        self.events.emit("handover", now, shift=shift, by=by)

    # scheduled rules ----------------------------------------------------------------------

    def scheduled(self, compiled: Any, now: float) -> None:
        """A schedule rule's ``then.report`` (inside the caller's transaction): make (or take
        the kept) report of the period it covers and deliver it to the rule's ``notify``. For
        ``duty`` that is the last shift that ended (the previous day without a roster)."""
        rule = compiled.rule
        period = periods.report_period(rule.then.report, self.clock.to_datetime(now),
                                       self.config.roster if self.config else None)
        self._make(period, now)
        self._deliver(period, now, roles=list(compiled.notify_roles),
                      channels=list(compiled.notify_channels), tag=rule.id, at=now,
                      rule=rule.id)

    # making and delivering ----------------------------------------------------------------

    def _make(self, period: Period, now: float) -> None:
        """Render and keep the report of ``period`` unless one is kept already."""
        if self.store.kept_report(period.kind, period.id) is not None:
            return
        health = self.health() if self.health is not None else None
        markdown, html = render(self.store, self.config, self.clock, period, health)
        self.store.keep_report(period.kind, period.id, now, markdown, html)
        log.info("report.kept", kind=period.kind, period=period.id)

    def _deliver(self, period: Period, now: float, *, roles: list[str], channels: Any,
                 tag: str, at: float, rule: str = "") -> None:
        """Send the kept report to the holders of ``roles`` at ``at`` and to ``channels``;
        emit the ``report`` event."""
        kept = self.store.kept_report(period.kind, period.id)
        assert kept is not None  # kept by the caller in this transaction
        directory = self.outreach.directory
        recipients = [{"role": role, "person": h.person}
                      for role in roles for h in directory.holders(role, at)]
        # The unit's name leads the title only when configured: the default keeps titles as
        # they were.
        unit = self.config.file.unit if self.config is not None else None
        title = f"{unit or ''}{KIND_NAMES[period.kind]}（{period.id}）"
        # Addressed at ``at`` (the incoming shift's holders), written at ``now``.
        self.outreach.send(kind=f"report.{period.kind}", ident=f"report:{period.id}",
                           roles=roles, channels=list(channels), text=notification_text(
                               kept.markdown, period), at=at, tag=tag, title=title, rule=rule)
        fields = {"rule": rule} if rule else {}
        self.events.emit("report", now, **fields, kind=period.kind, period=period.id,
                         recipients=recipients)
        log.info("report.delivered", kind=period.kind, period=period.id,
                 recipients=len(recipients))
