"""Who holds a role at a moment: the roster's people for that shift, else the ``roles:`` entry.

This answers the question between the config's ``roles:`` (one standing person per role) and
the duty roster (people by date and shift): the roster wins where it names someone for the role
in the shift; ``roles:`` is the standing fallback (and the only source without a ``duty:``
section). Callers look people up when they write a notification, so a roster edit or a swap
applies to the next notification.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from yuqingd.runtime.roster import Roster


class StandingRole(Protocol):
    person: str
    channels: list[str]
    fallback_after: float | None


@dataclass(frozen=True)
class Holder:
    role: str
    person: str
    channels: tuple[str, ...]
    # Set: ``channels`` are a chain, the first used until it has failed this long.
    fallback_after: float | None = None

    @property
    def reached_through(self) -> tuple[str, ...]:
        """The channels a new notification goes to: all, or the first of a fallback chain."""
        return self.channels[:1] if self.fallback_after is not None else self.channels


class Directory:
    def __init__(self, roles: Mapping[str, StandingRole], roster: Roster | None,
                 to_datetime: Callable[[float], dt.datetime]):
        self.roles = roles
        self.roster = roster
        self._to_datetime = to_datetime

    def holders(self, role: str, at: float) -> list[Holder]:
        """The people holding ``role`` at ``at`` (empty when nobody does)."""
        if self.roster is not None:
            people = self.roster.on_duty(self._to_datetime(at)).get(role)
            if people:
                return [Holder(role, p, tuple(self.roster.channels(p)),
                               self.roster.fallback_after(p)) for p in people]
        standing = self.roles.get(role)
        if standing is None:
            return []
        return [Holder(role, standing.person, tuple(standing.channels),
                       standing.fallback_after)]

    def person(self, person: str) -> Holder | None:
        """``person``'s channels (a roster person, or a ``roles:`` holder), role left empty."""
        if self.roster is not None and person in self.roster.duty.people:
            return Holder("", person, tuple(self.roster.channels(person)),
                          self.roster.fallback_after(person))
        for standing in self.roles.values():
            if standing.person == person:
                return Holder("", person, tuple(standing.channels), standing.fallback_after)
        return None

    def channels(self, person: str) -> list[str]:
        """The channels that reach ``person`` (a roster person, or a ``roles:`` holder)."""
        found = self.person(person)
        return list(found.channels) if found is not None else []

    def fallback(self, person: str) -> tuple[tuple[str, ...], float] | None:
        """``person``'s fallback chain and how long each channel may fail before the next is
        used, or None when they have none."""
        found = self.person(person)
        if found is None or found.fallback_after is None:
            return None
        return found.channels, found.fallback_after

    def knows(self, role: str) -> bool:
        """Whether anyone could ever hold ``role`` (the roster or ``roles:`` names it)."""
        return role in self.roles or (self.roster is not None and role in self.roster_roles())

    def roster_roles(self) -> set[str]:
        if self.roster is None:
            return set()
        rotation = self.roster.duty.roster.rotation
        names = set(rotation.roles) if rotation else set()
        for assigned in self.roster.duty.roster.dates.values():
            names.update(assigned)
        return names

    def names(self, role: str, at: float) -> str:
        """``张三、李四`` for messages and the accountability record; ``?`` when nobody."""
        return "、".join(h.person for h in self.holders(role, at)) or "?"
