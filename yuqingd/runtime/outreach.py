"""Outreach: how anything the daemon has to say reaches people, in three steps.

1. **Address**: who is reached through which channel — the holders of roles at the moment of
   sending (so roster changes and swaps apply at once), people of the roster by name, and named
   channels. One notification per channel, addressed to everyone reached through it.
2. **Render**: the text is rendered for each addressed channel, once its recipients are known
   (a message may give a renderer instead of a fixed text).
3. **Enqueue**: silences are checked (the source of the item being handled is passed in, not
   remembered), then the notification goes to the outbox in the caller's transaction, where
   :mod:`yuqingd.delivery.outbox` picks it up; a ``notification`` event records it.

Incidents, watches, expectations, reports and rules send through here; none of them needs
:mod:`yuqingd.runtime.incidents` to do so. Nothing here decides *whether* something is owed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from yuqingd.events import Events
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.runtime.directory import Directory
from yuqingd.runtime.silences import Silences
from yuqingd.store.api import Store
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.escalation")


@dataclass(frozen=True)
class Addressed:
    """One channel and the people a notification reaches through it."""

    channel: str
    to: tuple[Recipient, ...]


Renderer = Callable[[Addressed], str]


class Outreach:
    def __init__(self, store: Store, clock: Clock, events: Events,
                 silences: Silences | None = None):
        self.store = store
        self.clock = clock
        self.events = events
        self.silences = silences
        self.directory = Directory({}, None, clock.to_datetime)
        # Signed action links (yuqingd.web.links.Links), when the HTTP endpoint is configured.
        self.links: Any = None

    def configure(self, directory: Directory) -> None:
        """Take a (re)loaded directory of roles and people."""
        self.directory = directory

    # 1. address ---------------------------------------------------------------------------

    def address(self, *, roles: Sequence[str] = (), people: Sequence[str] = (),
                channels: Sequence[str] = (), at: float, ident: str = "",
                kind: str = "") -> list[Addressed]:
        """Who is reached through which channel at ``at``: named channels first (addressed to
        nobody in particular), then the channels of each role's holders, then of ``people``
        (of a person with a fallback chain, the first: :mod:`yuqingd.delivery.fallback` moves
        it on when that channel fails)."""
        targets: dict[str, list[Recipient]] = {channel: [] for channel in channels}
        for role_name in roles:
            holders = self.directory.holders(role_name, at)
            if not holders:
                log.error("notification.no_role", ident=ident, kind=kind, role=role_name)
            for holder in holders:
                for channel in holder.reached_through:
                    targets.setdefault(channel, []).append(Recipient(role_name, holder.person))
        for person in people:
            found = self.directory.person(person)
            for channel in found.reached_through if found is not None else ():
                targets.setdefault(channel, []).append(Recipient("", person))
        return [Addressed(channel, tuple(dict.fromkeys(to))) for channel, to in targets.items()]

    # 3. enqueue ---------------------------------------------------------------------------

    def enqueue(self, notification: Notification, at: float, *,
                source: str | None = None) -> bool:
        """Write ``notification`` to the outbox unless a silence withholds it (``source``: the
        source of the item being handled, for source silences). True when written."""
        key = notification.key
        if self.silences is not None and self.silences.suppressed(notification, key, at,
                                                                  source=source):
            return False  # recorded as notification.silenced; whatever sent it goes on
        self.store.enqueue(notification.id, notification.channel, notification.as_dict(), at)
        self.events.emit("notification", at, id=notification.id, rule=notification.rule,
                         incident=notification.incident or None, key=key,
                         kind=notification.kind, level=notification.level,
                         channel=notification.channel,
                         to=[{"role": r.role, "person": r.person} for r in notification.to])
        return True

    # all three ----------------------------------------------------------------------------

    def send(self, *, kind: str, ident: str, text: str | Renderer, at: float, tag: str,
             title: str, roles: Sequence[str] = (), channels: Sequence[str] = (),
             people: Sequence[str] = (), rule: str = "", key: str = "", incident: str = "",
             severity: str = "", level: int = 0, items: Sequence[NotifiedItem] = (),
             deadlines: Sequence[Due] = (), actions: Sequence[Action] = (),
             source: str | None = None) -> int:
        """Address, render and enqueue one message: one notification per channel, addressed
        to everyone reached through it (see :meth:`address`). Inside the caller's
        transaction. ``ident``+``kind``+``tag`` must identify this message among all messages
        ever sent (with the channel it is the outbox's idempotency key). Returns how many
        notifications were addressed (silenced ones included)."""
        addressed = self.address(roles=roles, people=people, channels=channels, at=at,
                                 ident=ident, kind=kind)
        when = self.clock.format(at)
        for target in addressed:
            rendered = text if isinstance(text, str) else text(target)
            linked = self._linked(actions, target, incident, at)
            self.enqueue(Notification(
                id=f"{ident}:{kind}:{tag}:{target.channel}", kind=kind, channel=target.channel,
                incident=incident, rule=rule, title=title, severity=severity, level=level,
                to=target.to, at=when, text=rendered, items=tuple(items),
                deadlines=tuple(deadlines), actions=linked, key=key), at, source=source)
        return len(addressed)

    def _linked(self, actions: Sequence[Action], target: Addressed, incident: str,
                at: float) -> tuple[Action, ...]:
        """``actions``, each once per person the channel reaches, with that person's link
        (as they are without the HTTP endpoint, or for a channel addressed to nobody)."""
        people = list(dict.fromkeys(r.person for r in target.to if r.person))
        if self.links is None or not incident or not people:
            return tuple(actions)
        return tuple(
            replace(action, person=person, url=self.links.make(
                person=person, incident=incident, action=action.name,
                channel=target.channel, at=at))
            for action in actions for person in people)

    def item(self, title: str, url: str, source: str = "", at: float | None = None
             ) -> NotifiedItem:
        """An item as a notification points at it (its time in the daemon's zone)."""
        return NotifiedItem(title=title, url=url, source=source,
                            at=self.clock.format(at) if at is not None else "")

    def due(self, kind: str, label: str, at: float) -> Due:
        return Due(kind=kind, label=label, at=self.clock.format(at))
