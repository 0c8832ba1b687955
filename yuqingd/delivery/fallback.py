"""Fallback channels per person: a person whose entry has ``fallback_after`` is reached
through the first of their ``channels``; once that channel has failed for longer (no success
since its first failure, remembered in the store across restarts), their waiting notifications
on it move to their next channel, and so on down the list.

A notification on a channel is addressed to several people; only those whose time has come
move. When nobody it addresses stays, the outbox row itself moves (same id, same place in the
order, attempts starting again); otherwise a new row stands in for the people who moved (id
``<id>><channel>``, written at the original's time) and the original no longer names them.
Either way a person is not sent the same notification on two channels, unless the first one
really delivered it while reporting a failure (a timeout). Each move is an audit entry
(``notification.fallback``) and the row records ``fallback_from``, so ``yuqingd incident``
shows which channel reached whom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import structlog

from yuqingd.events import Events
from yuqingd.model import Notification, Recipient
from yuqingd.runtime.audit import Audit
from yuqingd.store.api import OutboxRow, Store

log = structlog.get_logger("yuqingd.delivery")


class Chains(Protocol):
    """Who has a fallback chain (:class:`yuqingd.runtime.directory.Directory`)."""

    def fallback(self, person: str) -> tuple[tuple[str, ...], float] | None: ...


class Fallback:
    """Moves people's notifications off a failing channel; one per daemon, shared by the
    channel workers (each calls :meth:`hand_over` for its own channel, between sends)."""

    def __init__(self, store: Store, events: Events | None = None,
                 wake: Callable[[str], None] | None = None):
        self.store = store
        self.audit = Audit(store, events if events is not None else Events())
        self.wake = wake or (lambda channel: None)
        self.chains: Chains | None = None
        # Signed action links (yuqingd.web.links.Links) when the HTTP endpoint is on: a moved
        # notification's links are made again for the channel it now goes through.
        self.links: Any = None

    def configure(self, chains: Chains) -> None:
        """Take a (re)loaded directory of people and their channels."""
        self.chains = chains

    def hand_over(self, channel: str, now: float) -> float | None:
        """Move every waiting notification of ``channel`` for the people whose fallback time
        has come; returns when the next person's time comes (None: nobody waits for one)."""
        since = self.store.channel_failing_since(channel)
        if since is None or self.chains is None:
            return None
        later: list[float] = []
        woken: set[str] = set()
        with self.store.transaction():
            for row in self.store.undelivered_outbox(channel):
                woken |= self._move(row, channel, since, now, later)
        for target in woken:
            self.wake(target)
        return min(later, default=None)

    def _move(self, row: OutboxRow, channel: str, since: float, now: float,
              later: list[float]) -> set[str]:
        notification = Notification.from_dict(row.payload)
        moving: dict[str, list[Recipient]] = {}  # next channel → who goes there
        staying: list[Recipient] = []
        for recipient in notification.to:
            target, due = self._next(recipient.person, channel, since)
            if target is None or due is None:
                staying.append(recipient)
            elif due > now:
                staying.append(recipient)
                later.append(due)
            else:
                moving.setdefault(target, []).append(recipient)
        if not moving:
            return set()
        in_place = next(iter(moving)) if not staying else None  # the row itself moves there
        for target, people in moving.items():
            names = list(dict.fromkeys(r.person for r in people))
            moved = self._relinked(_for(
                notification, people, target,
                notification.id if target == in_place else f"{row.id}>{target}"), now)
            if target == in_place:
                self.store.move_notification(row.id, target, moved.as_dict(), channel, now)
            elif not self.store.add_fallback(moved.id, target, moved.as_dict(), channel,
                                             row.created_at, now):
                # others of this notification went there before (their time came earlier)
                moved = replace(moved, id=f"{moved.id}:{'+'.join(names)}")
                self.store.add_fallback(moved.id, target, moved.as_dict(), channel,
                                        row.created_at, now)
            self.audit.record("notification.fallback", now, incident=notification.incident or None,
                              id=row.id, moved=moved.id, kind=notification.kind,
                              level=notification.level, people=names, channel=channel,
                              to_channel=target, failing=round(now - since, 3))
        if in_place is None:
            self.store.set_outbox_payload(row.id, _for(
                notification, staying, channel, notification.id).as_dict())
        return set(moving)

    def _relinked(self, notification: Notification, now: float) -> Notification:
        """Its people's action links made for the channel it goes through now (so an action
        taken through one is audited as via that channel), valid from now."""
        if self.links is None or not notification.incident:
            return notification
        return replace(notification, actions=tuple(
            replace(a, url=self.links.make(person=a.person, incident=notification.incident,
                                           action=a.name, channel=notification.channel, at=now))
            if a.url and a.person else a for a in notification.actions))

    def _next(self, person: str, channel: str, since: float) -> tuple[str | None, float | None]:
        """The channel after ``channel`` in ``person``'s chain and when they move to it."""
        chain = self.chains.fallback(person) if self.chains is not None and person else None
        if chain is None:
            return None, None
        channels, after = chain
        if channel not in channels[:-1]:
            return None, None
        return channels[channels.index(channel) + 1], since + after


def _for(notification: Notification, people: list[Recipient], channel: str,
         notification_id: str) -> Notification:
    """``notification`` as sent to ``people`` through ``channel``: their own action links
    (and the ones meant for nobody in particular), not the others'."""
    names = {r.person for r in people}
    return replace(notification, id=notification_id, channel=channel, to=tuple(people),
                   actions=tuple(a for a in notification.actions
                                 if not a.person or a.person in names))
