"""Incidents and their escalation ladders.

Every state change writes, in the same transaction, the deadlines it starts and the
notifications it owes (to the outbox), so a crash can neither lose nor repeat them.

Ladder semantics: on opening, level 1 is notified. A level with ``ack_within`` that is not
acknowledged in time escalates to the next level (counted from the moment it was notified); on
the last level, ``repeat_every`` re-notifies that level until someone acknowledges. A deadline
that fell due while the daemon was down fires at start, and the next one counts from then.

Report-within-time (see ``deadlines.py`` for how an incident's deadlines are set): the first and
final reports are due counted from opening, each follow-up from the last report. A missed ack or
report deadline is recorded with who held the responsible role when it passed (问责), emits
``expectation.missed``, and escalates one level; a missed report deadline re-arms after the new
level's ``ack_within`` (else ``repeat_every``), so it climbs to the last level. There it is
missed once, then reminded and folded into a daily digest (``reminders.py``): no floods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog

from yuqingd.events import Events
from yuqingd.metrics import UNUSED
from yuqingd.model import Action, Due, NotifiedItem
from yuqingd.rules.model import ChainLevel, Deadlines, Rule
from yuqingd.runtime import reminders
from yuqingd.runtime.audit import Audit
from yuqingd.runtime.deadlines import (
    KIND_ZH,
    REPORT_KINDS,
    REPORT_STAGES,
    STAGE_OF_KIND,
    plan,
)
from yuqingd.runtime.directory import Directory
from yuqingd.runtime.messages import (
    acknowledged_text,
    digest_text,
    incident_text,
    overdue_text,
)
from yuqingd.runtime.obligations import SILENCED, excuse, record_miss
from yuqingd.runtime.outreach import Addressed, Outreach
from yuqingd.severity import LOWEST, lower
from yuqingd.store.api import SYSTEM_ACTOR, DeadlineRow, IncidentRow, Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.escalation")


class AckError(Exception):
    """An acknowledgement that cannot be applied; the message is for the person who tried."""


class Escalation:
    def __init__(self, store: Store, clock: Clock, outreach: Outreach,
                 events: Events | None = None):
        self.store = store
        self.clock = clock
        self.outreach = outreach  # how notifications reach people (silences included)
        self.events = events or Events()
        self.audit = Audit(store, self.events)
        self.directory = Directory({}, None, clock.to_datetime)
        self.chains: Mapping[str, tuple[ChainLevel, ...]] = {}
        self.deadlines: Mapping[str, Deadlines] = {}
        self.office: str | None = None  # also told the daily overdue digest
        self.meters = UNUSED  # the daemon's, once it runs

    def _met(self, kind: str, count: int) -> None:
        if count:
            self.meters.deadlines.labels(kind, "met").inc(count)

    def configure(self, directory: Directory, chains: Mapping[str, tuple[ChainLevel, ...]],
                  deadlines: Mapping[str, Deadlines] | None = None,
                  office: str | None = None) -> None:
        """Take a (re)loaded config. Open incidents keep the chain and deadlines they were
        opened with; role holders are looked up when a notification is written, so roster
        changes and swaps apply at once."""
        self.directory = directory
        self.chains = chains
        self.deadlines = deadlines or {}
        self.office = office

    # opening ------------------------------------------------------------------------------

    def open(self, rule: Rule, key: str, items: list[tuple[str, str, float]], at: float,
             severity: str | None = None, factor: float | None = None,
             source: str | None = None) -> str:
        """Open an incident for ``rule``/``key`` with the items in its window; inside the
        caller's transaction. ``severity`` overrides the rule's and ``factor`` scales its
        deadlines (key-date vigilance); ``source``: that of the item being handled, whose
        silence mutes the opening notification."""
        day = self.clock.to_datetime(at).strftime("%Y%m%d")
        incident_id = self.store.next_incident_id(day)
        action = rule.then.incident
        assert action is not None
        severity = severity or action.severity
        chain, deadlines = plan(
            [level.model_dump() for level in self.chains[action.chain]],
            self.deadlines.get(severity), action.deadlines, factor)
        self.store.add_incident(incident_id, rule.id, key, rule.title, severity, chain, at)
        self.store.set_incident_deadlines(incident_id, deadlines)
        for kind in ("first_report", "final_report"):
            if deadlines.get(kind):
                self.store.add_deadline(incident_id, kind, 1, at + deadlines[kind])
        self.audit.record("opened", at, incident=incident_id, rule=rule.id, key=key,
                          severity=severity, items=len(items))
        for source, item_id, item_at in items:
            self.store.attach_item(incident_id, source, item_id, item_at)
        incident = self.store.incident(incident_id)
        assert incident is not None
        self._notify(incident, "incident.opened", 1, at, tag="open", source=source)
        self._schedule(incident, 1, at)
        return incident_id

    # deadlines ----------------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.store.next_deadline()

    def fire_due(self, now: float) -> int:
        """Act on every deadline due at ``now``, oldest first; returns how many fired."""
        fired = 0
        with self.store.transaction():
            for deadline in self.store.due_deadlines(now):
                if not self.store.settle_deadline(deadline.id, now):
                    continue  # an earlier one in this pass cancelled or met it
                incident = self.store.incident(deadline.incident_id)
                fired += 1
                if incident is None or incident.status == "closed":
                    continue
                late = now - deadline.due_at
                if deadline.kind in REPORT_KINDS:
                    self._report_missed(incident, deadline, now)
                elif incident.status == "open":
                    if deadline.kind == "ack":
                        self._missed(incident, deadline, now)
                    self._on_missed(incident, deadline.kind, deadline.level, deadline.id, now,
                                    late)
        return fired

    def _missed(self, incident: IncidentRow, deadline: DeadlineRow,
                now: float) -> tuple[int, str, str]:
        """Record a missed expectation with who held the responsible role when it passed."""
        level = min(deadline.level if deadline.kind == "ack" else incident.level,
                    len(incident.chain))
        role = incident.chain[level - 1]["notify"]
        who = self.directory.names(role, deadline.due_at)
        # A level whose every notification a silence withheld never heard of the incident:
        # the miss is recorded, but not held against the people (问责).
        reason = excuse(deadline.kind, deadline.due_at, up=None,
                        told=self.store.level_told(incident.id, level))
        silenced = reason == SILENCED
        record_miss(self.store, kind=deadline.kind, subject=incident.id, title=incident.title,
                    due_at=deadline.due_at, at=now, role=role, who=who, level=level,
                    reason=reason, incident_id=incident.id)
        self.meters.deadlines.labels(deadline.kind, "missed").inc()
        self.store.record_miss(deadline.id, role, who, reason or None)
        extra = {"silenced": True} if silenced else {}
        self.audit.record(f"missed.{deadline.kind}", now, what=deadline.kind,
                          incident=incident.id, rule=incident.rule_id, key=incident.group_key,
                          level=level, role=role, who=who, **extra,
                          late_seconds=round(now - deadline.due_at, 3))
        return level, role, who

    def _report_missed(self, incident: IncidentRow, deadline: DeadlineRow, now: float) -> None:
        """A report not made in time: the first time at a level, record the miss, escalate one
        level (or tell the last again) and re-arm; later, remind or digest (``reminders.py``)."""
        level = min(incident.level, len(incident.chain))
        since = self._owed_since(incident, deadline.kind)
        first = reminders.first_miss(self.store.incident_misses(incident.id), deadline.kind,
                                     level, since)
        if first is not None:
            self._remind(incident, deadline, level, first.at, now)
            return
        level, role, who = self._missed(incident, deadline, now)
        target = min(level + 1, len(incident.chain))
        if target != level:
            self.store.set_level(incident.id, target)
            self.audit.record("escalated", now, incident=incident.id, rule=incident.rule_id,
                              key=incident.group_key, from_level=level, level=target,
                              overdue=deadline.kind)
            if incident.status == "open":  # one ladder: it goes on from the new level
                self.store.cancel_ladder(incident.id, now)
                self._schedule(incident, target, now)
        step = incident.chain[target - 1]
        self._send_overdue(incident, deadline, level, role, who, target, now)
        if target != level:  # the new level gets its own time to act
            again = step.get("ack_within") or step.get("repeat_every")
        else:  # the last level, already told: remind it like its ladder does, no more often
            again = step.get("repeat_every") if reminders.repeat_times(step) else None
        self.store.add_deadline(incident.id, deadline.kind, target,
                                now + again if again else self._digest_at(now))

    def _owed_since(self, incident: IncidentRow, kind: str) -> float:
        """From when the report of ``kind`` is owed: each follow-up anew after a report."""
        if kind != "follow_up":
            return 0.0
        return max(self.store.last_audit(incident.id, "report.first") or 0.0,
                   self.store.last_audit(incident.id, "report.follow_up") or 0.0)

    def _digest_at(self, now: float) -> float:
        return reminders.next_digest(self.clock.to_datetime(now)).timestamp()

    def _send_overdue(self, incident: IncidentRow, deadline: DeadlineRow, level: int,
                      role: str, who: str, target: int, now: float, reminder: str = "") -> None:
        """The ``incident.overdue`` notification to level ``target``."""
        step = incident.chain[target - 1]
        items = self._items(incident)
        what, stage = KIND_ZH[deadline.kind], STAGE_OF_KIND[deadline.kind]

        def render(_: Addressed) -> str:
            return overdue_text(
                incident_id=incident.id, title=incident.title, severity=incident.severity,
                key=incident.group_key, what=what, stage=stage,
                due=self.clock.format(deadline.due_at), level=level, role=role, who=who,
                target=target, target_role=step["notify"],
                person=self.directory.names(step["notify"], now), items=items,
                item_count=incident.item_count, at=self.clock.format(now), reminder=reminder)

        self._enqueue(incident, "incident.overdue", target, now, f"d{deadline.id}", render,
                      items, deadlines=(self.outreach.due(deadline.kind, what, deadline.due_at),),
                      actions=(Action("report", what,
                                      f"yuqingd report {incident.id} --stage {stage} --by 姓名"),))

    def _remind(self, incident: IncidentRow, deadline: DeadlineRow, level: int,
                missed_at: float, now: float) -> None:
        """A report deadline already missed at ``level`` fell due again: remind its holder (at
        most ``repeat_times``), then once a day in the incident's overdue digest."""
        step = incident.chain[level - 1]
        times = reminders.repeat_times(step)
        n = reminders.reminders(self.store.incident_deadlines(incident.id), deadline.kind,
                                level, missed_at)
        every = step.get("repeat_every")
        if every and n <= times:
            self.audit.record("reminded", now, incident=incident.id, rule=incident.rule_id,
                              key=incident.group_key, what=deadline.kind, level=level,
                              count=n, times=times)
            role = step["notify"]
            self._send_overdue(incident, deadline, level, role,
                               self.directory.names(role, deadline.due_at), level, now,
                               reminder=f"第{n}次提醒（共{times}次）；之后每天 "
                                        f"{reminders.DIGEST_HOUR:02d}:00 汇总提醒一次，"
                                        "直到报告或结案。")
            self.store.add_deadline(incident.id, deadline.kind, level,
                                    now + every if n < times else self._digest_at(now))
            return
        self._digest(incident, level, now)
        self.store.add_deadline(incident.id, deadline.kind, level, self._digest_at(now))

    def _digest(self, incident: IncidentRow, level: int, now: float) -> None:
        """The incident's daily overdue digest: every stage still owed, one message a day to
        the last level's holder and the ``office`` role (several stages due together: one)."""
        day = self.clock.to_datetime(now).strftime("%Y%m%d")
        tag = f"L{level}:digest{day}"
        if any(f":incident.overdue_digest:{tag}:" in r.id
               for r in self.store.incident_outbox(incident.id)):
            return  # another stage of this incident already folded into today's digest
        owed = self._owed(incident, level)
        if not owed:
            return
        counts = reminders.reminder_counts(self.store.incident_audit(incident.id))
        lines = [f"{KIND_ZH[kind]}（时限 {self.clock.format(due)} 已过，已提醒 "
                 f"{counts.get(kind, {}).get('reminded', 0)} 次）" for kind, due in owed]
        roles = list(dict.fromkeys([incident.chain[level - 1]["notify"],
                                    *([self.office] if self.office else [])]))
        self.audit.record("digest", now, incident=incident.id, rule=incident.rule_id,
                          key=incident.group_key, what=[kind for kind, _ in owed], level=level,
                          roles=roles)
        stage = STAGE_OF_KIND[owed[0][0]]
        text = digest_text(incident_id=incident.id, title=incident.title,
                           severity=incident.severity, key=incident.group_key, owed=lines,
                           stage=stage, at=self.clock.format(now))
        self.outreach.send(kind="incident.overdue_digest", ident=incident.id, roles=roles,
                           text=text, at=now, tag=tag, title=incident.title,
                           rule=incident.rule_id, key=incident.group_key, incident=incident.id,
                           severity=incident.severity, level=level,
                           actions=(Action("report", KIND_ZH[owed[0][0]],
                                           f"yuqingd report {incident.id} --stage {stage} "
                                           f"--by 姓名"),))

    def _owed(self, incident: IncidentRow, level: int) -> list[tuple[str, float]]:
        """The report kinds missed and still owed, with when each was first due."""
        misses = self.store.incident_misses(incident.id)
        rows = self.store.incident_deadlines(incident.id)
        owed = []
        for kind in REPORT_KINDS:
            since = self._owed_since(incident, kind)
            missed = [m for m in misses if m.kind == kind and m.at > since]
            latest = max((d for d in rows if d.kind == kind), key=lambda d: d.id, default=None)
            if missed and latest is not None and latest.state != "met":
                owed.append((kind, min(m.due_at for m in missed)))
        return owed

    def _on_missed(
        self,
        incident: IncidentRow,
        kind: str,
        level: int,
        deadline_id: int,
        now: float,
        late: float,
    ) -> None:
        chain = incident.chain
        if kind == "ack" and level < len(chain):
            self.store.set_level(incident.id, level + 1)
            self.audit.record("escalated", now, incident=incident.id, rule=incident.rule_id,
                              key=incident.group_key, from_level=level, level=level + 1,
                              late_seconds=round(late, 3))
            self._notify(incident, "incident.escalated", level + 1, now, tag=f"d{deadline_id}")
            self._schedule(incident, level + 1, now)
        elif chain[level - 1].get("repeat_every"):
            self.audit.record("repeated", now, incident=incident.id, rule=incident.rule_id,
                              key=incident.group_key, level=level)
            self._notify(incident, "incident.repeated", level, now, tag=f"d{deadline_id}")
            times = reminders.repeat_times(chain[level - 1])
            if self.store.repeats_done(incident.id) < times:
                self.store.add_deadline(
                    incident.id, "repeat", level, now + chain[level - 1]["repeat_every"]
                )
            else:
                self.audit.record("repeats.done", now, incident=incident.id, level=level,
                                  times=times)
        else:  # the miss is already recorded (``_missed``); nobody is left to tell
            log.error("incident.unacknowledged", incident=incident.id, level=level)

    def _schedule(self, incident: IncidentRow, level: int, now: float) -> None:
        """Arm the ladder's deadline for ``level``, just notified at ``now``."""
        step = incident.chain[level - 1]
        if step.get("ack_within"):
            self.store.add_deadline(incident.id, "ack", level, now + step["ack_within"])
        elif step.get("repeat_every"):
            self.store.add_deadline(incident.id, "repeat", level, now + step["repeat_every"])

    # acknowledgement ----------------------------------------------------------------------

    def acknowledge(self, incident_id: str, by: str, note: str, now: float, *,
                    via: str = "") -> IncidentRow:
        """Stop the ladder: record who acknowledged, cancel its pending deadlines (report
        deadlines run on), tell those already notified. ``via``: how, when not the control
        socket (``link (channel)``: a signed link sent through that channel)."""
        with self.store.transaction():
            incident = self.store.incident(incident_id)
            if incident is None:
                raise AckError(f"没有编号为 {incident_id} 的事件")
            if incident.status == "closed":
                raise AckError(f"事件 {incident_id} 已关闭")
            if incident.status != "open":
                raise AckError(
                    f"事件 {incident_id} 已由 {incident.acked_by} 于 "
                    f"{self.clock.format(incident.acked_at or 0)} 确认"
                )
            return self._acknowledge(incident, by, note, now, via=via)

    def _acknowledge(self, incident: IncidentRow, by: str, note: str, now: float, *,
                     via: str = "") -> IncidentRow:
        """The acknowledgement itself, inside the caller's transaction."""
        incident_id = incident.id
        self._met("ack", self.store.acknowledge(incident_id, by, note, now))
        self.audit.record("acknowledged", now, incident=incident_id, rule=incident.rule_id,
                          key=incident.group_key, by=by, note=note, level=incident.level,
                          **({"via": via} if via else {}))
        text = acknowledged_text(incident_id=incident_id, title=incident.title, by=by, note=note,
                                 at=self.clock.format(now))
        # One message per channel to everyone the ladder has reached: people (or a group
        # robot) holding several of its levels hear the acknowledgement once, not once a level.
        reached = dict.fromkeys(incident.chain[level - 1]["notify"]
                                for level in range(1, incident.level + 1))
        self.outreach.send(kind="incident.acknowledged", ident=incident.id, roles=list(reached),
                           text=text, at=now, tag=f"L{incident.level}:ack",
                           title=incident.title, rule=incident.rule_id, key=incident.group_key,
                           incident=incident.id, severity=incident.severity,
                           level=incident.level)
        acked = self.store.incident(incident_id)
        assert acked is not None
        return acked

    def report(self, incident_id: str, stage: str, by: str, note: str, now: float, *,
               via: str = "") -> None:
        """Record a report to superiors (首报/续报/终报), in order: first, then any follow-ups,
        then the final one, which closes the incident (it may also be the only one). A report
        is also an acknowledgement. It meets the deadline of its stage; the next follow-up is
        due ``follow_up_every`` after it."""
        if stage not in REPORT_STAGES:
            raise AckError(f"未知的报告阶段 {stage!r}（first、follow_up、final）")
        reached, meets = REPORT_STAGES[stage]
        with self.store.transaction():
            incident = self.store.incident(incident_id)
            if incident is None or incident.status == "closed":
                raise AckError(f"没有编号为 {incident_id} 的未关闭事件")
            reported = incident.stage in ("first_report", "follow_up")
            if stage == "first" and reported:
                raise AckError(f"事件 {incident_id} 已首报；续报请用 --stage follow_up，"
                               f"终报请用 --stage final")
            if stage == "follow_up" and not reported:
                raise AckError(f"事件 {incident_id} 尚未首报：yuqingd report {incident_id} "
                               f"--stage first --by 姓名")
            if incident.status == "open":
                self._acknowledge(incident, by, note, now, via=via)
            for kind in meets:
                self._met(kind, self.store.meet_deadlines(incident_id, (kind,), now))
            self.store.set_stage(incident_id, reached)
            self.audit.record(f"report.{stage}", now, incident=incident_id,
                              rule=incident.rule_id, key=incident.group_key, stage=stage,
                              by=by, note=note, **({"via": via} if via else {}))
            every = incident.deadlines.get("follow_up_every")
            if stage == "final":
                self.close(incident_id, now, by=by, note=note)
            elif every:
                self.store.add_deadline(incident_id, "follow_up", incident.level, now + every)

    def settle_quiet(self, incident: IncidentRow, now: float, quiet: float, mode: str) -> bool:
        """An acknowledged incident with no new item for ``quiet`` (since the ack, its last
        item or its last downgrade): close it, or lower its severity one step (closing it
        at 一般). One that still owes a report is never closed by quiet. Inside the caller's
        transaction; True when it was closed."""
        last = max(incident.acked_at or 0, self.store.last_item_at(incident.id) or 0,
                   self.store.last_audit(incident.id, "downgraded") or 0)
        if now - last <= quiet:
            return False
        if mode == "downgrade" and incident.severity != LOWEST:
            lowered = lower(incident.severity)
            self.store.set_severity(incident.id, lowered)
            self.audit.record("downgraded", now, incident=incident.id, rule=incident.rule_id,
                              key=incident.group_key, severity=lowered,
                              previous=incident.severity, quiet=quiet)
            return False
        if self.store.pending_reports(incident.id):
            return False
        self.close(incident.id, now, quiet=quiet)
        return True

    def close(self, incident_id: str, now: float, *, by: str = SYSTEM_ACTOR, note: str = "",
              quiet: float | None = None, via: str = "") -> None:
        """Close an incident (inside the caller's transaction): no more items, no deadlines.
        ``quiet``: closed by itself, after so long without a new item."""
        incident = self.store.incident(incident_id)
        self.store.close_incident(incident_id, now)
        self.audit.record("closed", now, incident=incident_id,
                          rule=incident.rule_id if incident else None, by=by, note=note,
                          **({} if quiet is None else {"quiet": quiet}),
                          **({"via": via} if via else {}))

    # what a person's commands read --------------------------------------------------------

    def get(self, incident_id: str) -> IncidentRow | None:
        return self.store.incident(incident_id)

    def active_for(self, rule_id: str, key: str) -> IncidentRow | None:
        """The open or acknowledged incident of ``rule_id`` for ``key``, if any."""
        return self.store.active_incident(rule_id, key)

    def listing(self) -> list[IncidentRow]:
        """Every incident, oldest first."""
        return self.store.incidents()

    def next_deadline(self, incident_id: str) -> DeadlineRow | None:
        return self.store.next_incident_deadline(incident_id)

    def close_now(self, incident_id: str, now: float, *, by: str, note: str,
                  via: str = "") -> None:
        """``yuqingd close``: :meth:`close` in its own transaction."""
        with self.store.transaction():
            self.close(incident_id, now, by=by, note=note, via=via)

    # notifications ------------------------------------------------------------------------

    def _notify(self, incident: IncidentRow, kind: str, level: int, at: float, tag: str,
                source: str | None = None) -> None:
        step = incident.chain[level - 1]
        role_name = step["notify"]
        previous = None
        if kind == "incident.escalated":
            prev_role = incident.chain[level - 2]["notify"]
            previous = (prev_role, self.directory.names(prev_role, at))
        items = self._items(incident)
        person = self.directory.names(role_name, at)
        ack_within = step.get("ack_within")

        def render(_: Addressed) -> str:
            return incident_text(
                kind=kind,
                incident_id=incident.id,
                title=incident.title,
                severity=incident.severity,
                key=incident.group_key,
                level=level,
                role=role_name,
                person=person,
                ack_within=ack_within,
                previous=previous,
                items=items,
                item_count=incident.item_count,
                at=self.clock.format(at),
            )

        deadlines = [self.outreach.due("ack", KIND_ZH["ack"], at + ack_within)] if ack_within \
            else []
        deadlines += [self.outreach.due(d.kind, KIND_ZH[d.kind], d.due_at)
                      for d in self.store.incident_deadlines(incident.id)
                      if d.state == "pending" and d.kind in REPORT_KINDS]
        self._enqueue(incident, kind, level, at, tag, render, items, source=source,
                      deadlines=tuple(deadlines),
                      actions=(Action("ack", KIND_ZH["ack"],
                                      f"yuqingd ack {incident.id} --by {person}"),))

    def _items(self, incident: IncidentRow) -> list[NotifiedItem]:
        """The newest attached items, for reminders and escalations."""
        return [self.outreach.item(r.title, r.url, r.source, r.fetched_at)
                for r in self.store.incident_items(incident.id)]

    def _enqueue(
        self,
        incident: IncidentRow,
        kind: str,
        level: int,
        at: float,
        tag: str,
        text: str | Callable[[Addressed], str],
        items: Sequence[NotifiedItem] = (),
        *,
        deadlines: Sequence[Due] = (),
        actions: Sequence[Action] = (),
        source: str | None = None,
    ) -> None:
        """Tell the holders of the incident's ``level`` (ids ``INCIDENT:KIND:L<level>:TAG:…``)."""
        self.outreach.send(kind=kind, ident=incident.id,
                           roles=[incident.chain[level - 1]["notify"]], text=text, at=at,
                           tag=f"L{level}:{tag}", title=incident.title, rule=incident.rule_id,
                           key=incident.group_key, incident=incident.id,
                           severity=incident.severity, level=level, items=items,
                           deadlines=deadlines, actions=actions, source=source)
