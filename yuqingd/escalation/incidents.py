"""Incidents and their escalation ladders.

Every state change writes, in the same transaction, the deadlines it starts and the
notifications it owes (to the outbox), so a crash can neither lose nor repeat them.

Ladder semantics: on opening, level 1 is notified. A level with ``ack_within`` that is not
acknowledged in time escalates to the next level (counted from the moment it was notified); on
the last level, ``repeat_every`` re-notifies that level until someone acknowledges. A deadline
that fell due while the daemon was down fires at start, and the next one counts from then.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from yuqingd.clock import Clock
from yuqingd.duty.directory import Directory
from yuqingd.escalation.messages import acknowledged_text, incident_text
from yuqingd.events import Events
from yuqingd.model import Notification, Recipient
from yuqingd.rules.model import ChainLevel, Rule
from yuqingd.store.sqlite import IncidentRow, Store

log = structlog.get_logger("yuqingd.escalation")


class AckError(Exception):
    """An acknowledgement that cannot be applied; the message is for the person who tried."""


class Escalation:
    def __init__(self, store: Store, clock: Clock, events: Events | None = None):
        self.store = store
        self.clock = clock
        self.events = events or Events()
        self.directory = Directory({}, None, clock.to_datetime)
        self.chains: Mapping[str, tuple[ChainLevel, ...]] = {}

    def configure(self, directory: Directory,
                  chains: Mapping[str, tuple[ChainLevel, ...]]) -> None:
        """Take a (re)loaded config. Open incidents keep the chain they were opened with;
        role holders are looked up when a notification is written, so roster changes and
        swaps apply at once."""
        self.directory = directory
        self.chains = chains

    # opening ------------------------------------------------------------------------------

    def open(self, rule: Rule, key: str, items: list[tuple[str, str, float]], at: float,
             severity: str | None = None) -> str:
        """Open an incident for ``rule``/``key`` with the items in its window; inside the
        caller's transaction. ``severity`` overrides the rule's (key-date vigilance)."""
        day = self.clock.to_datetime(at).strftime("%Y%m%d")
        incident_id = self.store.next_incident_id(day)
        chain = [level.model_dump() for level in self.chains[rule.then.incident.chain]]
        severity = severity or rule.then.incident.severity
        self.store.add_incident(incident_id, rule.id, key, rule.title, severity, chain, at)
        self.events.emit("incident.opened", at, incident=incident_id, rule=rule.id, key=key,
                         severity=severity, items=len(items))
        for source, item_id, item_at in items:
            self.store.attach_item(incident_id, source, item_id, item_at)
        self.store.audit(at, "opened", "yuqingd", incident_id, f"rule={rule.id} key={key}")
        incident = self.store.incident(incident_id)
        assert incident is not None
        self._notify(incident, "incident.opened", 1, at, tag="open")
        self._schedule(incident, 1, at)
        log.warning(
            "incident.opened",
            incident=incident_id,
            rule=rule.id,
            key=key,
            severity=incident.severity,
            items=len(items),
        )
        return incident_id

    # deadlines ----------------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.store.next_deadline()

    def fire_due(self, now: float) -> int:
        """Act on every deadline due at ``now``, oldest first; returns how many fired."""
        fired = 0
        with self.store.transaction():
            for deadline in self.store.due_deadlines(now):
                self.store.settle_deadline(deadline.id, now)
                incident = self.store.incident(deadline.incident_id)
                fired += 1
                if incident is None or incident.status != "open":
                    continue
                late = now - deadline.due_at
                self._on_missed(incident, deadline.kind, deadline.level, deadline.id, now, late)
        return fired

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
            self.store.audit(
                now,
                "escalated",
                "yuqingd",
                incident.id,
                f"level {level} → {level + 1}; late by {late:.0f}s",
            )
            self.events.emit("incident.escalated", now, incident=incident.id,
                             rule=incident.rule_id, key=incident.group_key, level=level + 1)
            self._notify(incident, "incident.escalated", level + 1, now, tag=f"d{deadline_id}")
            self._schedule(incident, level + 1, now)
            log.warning(
                "incident.escalated",
                incident=incident.id,
                level=level + 1,
                late_seconds=round(late, 3),
            )
        elif chain[level - 1].get("repeat_every"):
            self.store.audit(now, "repeated", "yuqingd", incident.id, f"level {level}")
            self.events.emit("incident.repeated", now, incident=incident.id,
                             rule=incident.rule_id, key=incident.group_key, level=level)
            self._notify(incident, "incident.repeated", level, now, tag=f"d{deadline_id}")
            self.store.add_deadline(
                incident.id, "repeat", level, now + chain[level - 1]["repeat_every"]
            )
            log.warning("incident.repeated", incident=incident.id, level=level)
        else:
            self.store.audit(
                now,
                "unacknowledged",
                "yuqingd",
                incident.id,
                f"last level {level} did not acknowledge",
            )
            self.events.emit("expectation.missed", now, what="ack", incident=incident.id,
                             rule=incident.rule_id, level=level,
                             who=chain[level - 1]["notify"])
            log.error("incident.unacknowledged", incident=incident.id, level=level)

    def _schedule(self, incident: IncidentRow, level: int, now: float) -> None:
        step = incident.chain[level - 1]
        if step.get("ack_within"):
            self.store.add_deadline(incident.id, "ack", level, now + step["ack_within"])
        elif step.get("repeat_every"):
            self.store.add_deadline(incident.id, "repeat", level, now + step["repeat_every"])

    # acknowledgement ----------------------------------------------------------------------

    def acknowledge(self, incident_id: str, by: str, note: str, now: float) -> IncidentRow:
        """Stop the ladder: record who acknowledged, cancel pending deadlines, tell those
        already notified."""
        with self.store.transaction():
            incident = self.store.incident(incident_id)
            if incident is None:
                raise AckError(f"没有编号为 {incident_id} 的事件")
            if incident.status != "open":
                raise AckError(
                    f"事件 {incident_id} 已由 {incident.acked_by} 于 "
                    f"{self.clock.format(incident.acked_at or 0)} 确认"
                )
            self.store.acknowledge(incident_id, by, note, now)
            self.store.audit(now, "acknowledged", by, incident_id, note)
            self.events.emit("incident.acknowledged", now, incident=incident_id,
                             rule=incident.rule_id, key=incident.group_key, by=by, note=note)
            text = acknowledged_text(
                incident_id=incident_id,
                title=incident.title,
                by=by,
                note=note,
                at=self.clock.format(now),
            )
            for level in range(1, incident.level + 1):
                self._enqueue(incident, "incident.acknowledged", level, now, "ack", text)
            acked = self.store.incident(incident_id)
        log.info("incident.acknowledged", incident=incident_id, by=by, level=incident.level)
        assert acked is not None
        return acked

    def report(self, incident_id: str, stage: str, by: str, note: str, now: float) -> None:
        """Record a report to superiors (首报/续报/终报). A report is also an acknowledgement;
        the final report closes the incident. (Report deadlines come with the duty issue.)"""
        if stage not in ("first", "follow_up", "final"):
            raise AckError(f"未知的报告阶段 {stage!r}（first、follow_up、final）")
        incident = self.store.incident(incident_id)
        if incident is None or incident.status == "closed":
            raise AckError(f"没有编号为 {incident_id} 的未关闭事件")
        if incident.status == "open":
            self.acknowledge(incident_id, by, note, now)
        with self.store.transaction():
            self.store.audit(now, f"report.{stage}", by, incident_id, note)
            self.events.emit("incident.reported", now, incident=incident_id,
                             rule=incident.rule_id, key=incident.group_key, stage=stage, by=by)
            if stage == "final":
                self.close(incident_id, now, by=by, note=note)

    def close(self, incident_id: str, now: float, *, by: str = "yuqingd", note: str = "") -> None:
        """Close an incident (inside the caller's transaction): no more items, no deadlines."""
        incident = self.store.incident(incident_id)
        self.store.close_incident(incident_id, now)
        self.store.audit(now, "closed", by, incident_id, note)
        self.events.emit("incident.closed", now, incident=incident_id,
                         rule=incident.rule_id if incident else None, by=by, note=note)
        log.info("incident.closed", incident=incident_id, by=by, note=note)

    # notifications ------------------------------------------------------------------------

    def _notify(self, incident: IncidentRow, kind: str, level: int, at: float, tag: str) -> None:
        step = incident.chain[level - 1]
        role_name = step["notify"]
        previous = None
        if kind == "incident.escalated":
            prev_role = incident.chain[level - 2]["notify"]
            previous = (prev_role, self.directory.names(prev_role, at))
        items = [
            {"title": r["title"], "url": r["url"]} for r in self.store.incident_items(incident.id)
        ]
        text = incident_text(
            kind=kind,
            incident_id=incident.id,
            title=incident.title,
            severity=incident.severity,
            key=incident.group_key,
            level=level,
            role=role_name,
            person=self.directory.names(role_name, at),
            ack_within=step.get("ack_within"),
            previous=previous,
            items=items,
            item_count=incident.item_count,
            at=self.clock.format(at),
        )
        self._enqueue(incident, kind, level, at, tag, text, items)

    def _enqueue(
        self,
        incident: IncidentRow,
        kind: str,
        level: int,
        at: float,
        tag: str,
        text: str,
        items: list[dict[str, str]] | None = None,
    ) -> None:
        role_name = incident.chain[level - 1]["notify"]
        holders = self.directory.holders(role_name, at)
        if not holders:
            log.error("notification.no_role", incident=incident.id, role=role_name)
            return
        targets: dict[str, list[Recipient]] = {}
        for holder in holders:
            for channel in holder.channels:
                targets.setdefault(channel, []).append(Recipient(role_name, holder.person))
        for channel, to in targets.items():
            notification = Notification(
                id=f"{incident.id}:{kind}:L{level}:{tag}:{channel}",
                kind=kind,
                channel=channel,
                incident=incident.id,
                rule=incident.rule_id,
                title=incident.title,
                severity=incident.severity,
                level=level,
                to=tuple(to),
                at=self.clock.format(at),
                text=text,
                items=tuple(items or ()),
            )
            self._send(notification, at, incident.group_key)

    def _send(self, notification: Notification, at: float, key: str) -> None:
        silences = getattr(self, "silences", None)  # set by the daemon (escalation/silences.py)
        if silences is not None and silences.suppressed(notification, key, at):
            return  # recorded as notification.silenced; the incident and its deadlines go on
        self.store.enqueue(notification.id, notification.channel, notification.as_dict(), at)
        self.events.emit("notification", at, id=notification.id, rule=notification.rule,
                         incident=notification.incident or None, key=key,
                         kind=notification.kind, level=notification.level,
                         channel=notification.channel,
                         to=[{"role": r.role, "person": r.person} for r in notification.to])

    def notify(self, *, rule: Rule, key: str, roles: list[str], channels: list[str], text: str,
               at: float, tag: str, items: list[dict[str, str]] | None = None) -> None:
        """A plain notification from a rule (no incident): to each role's channels and to the
        named channels."""
        self.send(kind="rule.notify", ident=f"{rule.id}:{key}", roles=roles, channels=channels,
                  text=text, at=at, tag=tag, title=rule.title, rule=rule.id, key=key,
                  items=items)

    def send(self, *, kind: str, ident: str, roles: list[str], text: str, at: float, tag: str,
             title: str, channels: list[str] = (), people: list[str] = (), rule: str = "",
             key: str = "", incident: str = "", severity: str = "", level: int = 0,
             items: list[dict[str, str]] | None = None) -> int:
        """One notification per channel, addressed to everyone reached through it: the holders
        of ``roles`` at ``at``, the roster's ``people`` by name, and the named ``channels``.
        Inside the caller's transaction. ``ident``+``kind``+``tag`` must identify this message
        among all messages ever sent (it is the outbox's idempotency key). Returns how many
        notifications were written."""
        targets: dict[str, list[Recipient]] = {channel: [] for channel in channels}
        for role_name in roles:
            holders = self.directory.holders(role_name, at)
            if not holders:
                log.error("notification.no_role", ident=ident, kind=kind, role=role_name)
            for holder in holders:
                for channel in holder.channels:
                    targets.setdefault(channel, []).append(Recipient(role_name, holder.person))
        for person in people:
            for channel in self.directory.channels(person):
                targets.setdefault(channel, []).append(Recipient("", person))
        for channel, to in targets.items():
            self._send(Notification(
                id=f"{ident}:{kind}:{tag}:{channel}", kind=kind, channel=channel,
                incident=incident, rule=rule, title=title, severity=severity, level=level,
                to=tuple(dict.fromkeys(to)), at=self.clock.format(at), text=text,
                items=tuple(items or ())), at, key)
        return len(targets)
