"""The store API: what the daemon keeps, as a Protocol and the frozen rows that cross it.

Every item, incident, deadline, expectation and outgoing notification is written through this
interface, in one transaction with the change that caused it, before anything acts on it.
Callers depend on :class:`Store` (this Protocol), never on a backend class; rows are typed and
decoded (no caller sees a JSON column); report aggregates (the weekly briefing's and the duty
report's figures) are queries of the store too, so a second backend implements them once.

Contract of every backend:

- **No transaction spans an ``await``.** ``transaction()`` is synchronous, not re-entrant, and
  all-or-nothing; the daemon calls the store from the trio thread only, for local millisecond
  writes. Code holding a transaction open never awaits.
- A failure of the store itself (disk full, database locked too long, a broken file) raises
  :class:`StoreError`; callers let it propagate (systemd restarts the daemon) and treat every
  other exception as a problem of the data they handle.
- One daemon per database: opening a store already in use raises :class:`StateInUse`.
- Times are epoch seconds (floats); ``None`` means "never" or "not known".

Only :mod:`yuqingd.store` and its backends issue queries; the backend for SQLite is
:mod:`yuqingd.store.sqlite`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from yuqingd.model import SPREAD_WINDOW, Enrichment, Item

SYSTEM_ACTOR = "yuqingd"  # the actor of what the daemon does by itself


class StoreError(Exception):
    """The store itself failed (not the data given to it): let it propagate."""


class StateInUse(StoreError):
    """Another process holds this state directory."""


class _Row:
    """Read access by column name too (``row["title"]``), for code written against mappings."""

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]  # type: ignore[arg-type]


# rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryRow(_Row):
    id: int
    simhash: int
    title: str
    first_seen: float
    last_seen: float
    items: int


@dataclass(frozen=True)
class StoryItem(_Row):
    """An item of a recent story, from which the story index is rebuilt after a restart."""

    story_id: int
    title: str
    text: str
    fetched_at: float
    first_seen: float  # the story's
    last_seen: float  # the story's


@dataclass(frozen=True)
class ItemRow(_Row):
    """A stored item as reports and messages show it."""

    source: str
    item_id: str
    url: str
    title: str
    sentiment: str
    severity: str
    fetched_at: float
    story_id: int | None


@dataclass(frozen=True)
class LevelStep(_Row):
    """One level of an incident's escalation ladder, as snapshotted when it opened: the role
    told, the time it has to acknowledge before the next level is told, or how often (and how
    many times) the last level is reminded again."""

    notify: str
    ack_within: float | None = None
    repeat_every: float | None = None
    repeat_times: int | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """Like a mapping's ``get``: a field, or ``default`` when it is unset (None)."""
        value = getattr(self, name, None)
        return default if value is None else value


@dataclass(frozen=True)
class IncidentRow(_Row):
    id: str
    rule_id: str
    group_key: str
    title: str
    severity: str
    chain: tuple[LevelStep, ...]  # the escalation levels at opening (snapshot)
    level: int
    status: str  # open | acknowledged | closed
    opened_at: float
    acked_at: float | None
    acked_by: str | None
    item_count: int
    stage: str = "opened"  # → acknowledged → first_report → follow_up → final_report → closed
    deadlines: dict[str, Any] = field(default_factory=dict)  # effective at opening (snapshot)


@dataclass(frozen=True)
class DeadlineRow(_Row):
    id: int
    incident_id: str
    kind: str  # ack | repeat | first_report | follow_up | final_report
    level: int
    due_at: float
    state: str = "pending"  # pending | fired | met | cancelled
    settled_at: float | None = None
    role: str | None = None  # who held the responsible role when it was missed
    who: str | None = None
    excused: str | None = None  # why the miss is not held against ``who`` (silenced), or None


@dataclass(frozen=True)
class OutboxRow(_Row):
    id: str
    channel: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: float
    created_at: float = 0.0
    delivered_at: float | None = None
    last_error: str | None = None
    # The channel this notification was moved from (a person's fallback), else None.
    fallback_from: str | None = None


@dataclass(frozen=True)
class AuditRow(_Row):
    """One audit entry: an action and its fields, as :mod:`yuqingd.runtime.audit` recorded
    them (no wording: :mod:`yuqingd.reports.audit` says them in Chinese when shown)."""

    id: int
    at: float
    incident_id: str | None
    action: str
    actor: str  # "yuqingd" for the daemon itself
    fields: Mapping[str, Any]

    @property
    def note(self) -> str:
        """A person's own note (an acknowledgement's, a report's), or ""."""
        return str(self.fields.get("note", ""))


@dataclass(frozen=True)
class LadderStep(_Row):
    """One step of an expectation's ladder: remind or escalate to ``roles`` and ``people``."""

    at: float
    action: str  # remind | escalate
    roles: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    skipped: bool = False  # passed while the daemon was down; said by a later step


@dataclass(frozen=True)
class ExpectationRow(_Row):
    id: int
    kind: str  # check_in | submission
    subject: str
    title: str
    role: str
    who: str
    due_at: float
    ladder: tuple[LadderStep, ...]
    level: int  # ladder steps done
    next_at: float | None
    state: str  # pending | missed | met | skipped
    created_at: float
    missed_at: float | None
    missed_who: str | None
    met_at: float | None
    met_by: str | None
    note: str


@dataclass(frozen=True)
class MissRow(_Row):
    """An obligation missed (an incident's ack or report, a check-in, a submission): who held
    it when it passed and whether that counts against them (问责). One record for every kind,
    read by ``yuqingd incident``, the duty report and the weekly briefing."""

    kind: str  # ack | first_report | follow_up | final_report | check_in | submission
    subject: str  # the incident id, or the expectation's subject (2026-11-18/夜班/赵丽)
    title: str  # what was due, for people
    due_at: float
    at: float  # when the miss was recorded (the due time, or the start after downtime)
    role: str  # the role (a unit for a submission) that held it
    who: str  # the people who held it, by name (no annotation)
    level: int  # the ladder level it was missed at
    counts: bool  # held against them
    reason: str = ""  # why not: silenced | daemon_down ("" when it counts)
    incident_id: str | None = None
    id: int = 0


@dataclass(frozen=True)
class ReportRow(_Row):
    kind: str
    period: str
    created_at: float
    markdown: str
    html: str


@dataclass(frozen=True)
class HandoverNoteRow(_Row):
    by: str
    note: str
    at: float


@dataclass(frozen=True)
class WatchRow(_Row):
    id: int
    rule_id: str
    kind: str
    group_key: str
    started: float
    ends_at: float
    state: str  # running | ended
    title: str
    started_by: str
    recipients: dict[str, list[str]]
    summary_every: float | None
    next_summary: float | None
    summaries: int
    latest_end: float | None
    ended_at: float | None
    ended_by: str | None


@dataclass(frozen=True)
class WatchItemRow(_Row):
    source: str
    item_id: str
    at: float
    title: str
    url: str
    sentiment: str


@dataclass(frozen=True)
class SilenceRow(_Row):
    id: int
    scope: str  # rule | key | source
    target: str
    created_at: float
    ends_at: float
    reason: str
    created_by: str
    removed_at: float | None
    removed_by: str | None


@dataclass(frozen=True)
class TokenRow(_Row):
    """A bearer token of the HTTP API: only its SHA-256 digest is kept."""

    id: int
    name: str  # the integration or person it was made for; unique among live tokens
    person: str | None  # who its actions are recorded as (else ``name``)
    digest: str  # hex SHA-256 of the token
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


# report aggregates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """How many items fell under one name (a source, sentiment, severity or topic)."""

    name: str
    count: int
    negative: int = 0


@dataclass(frozen=True)
class Purged:
    """What one retention run removed (:meth:`Store.purge`)."""

    items: int  # items whose text, URL, title and author hash were purged
    stories: int  # stories whose title was purged
    rule_hits: int
    firings: int
    dead_letters: int

    @property
    def total(self) -> int:
        return self.items + self.stories + self.rule_hits + self.firings + self.dead_letters


@dataclass(frozen=True)
class ItemGroup:
    """The items of one story found in a period (or one item without a story), shown through
    one of them: the most severe (negative) or the most engaged (positive), earliest first."""

    title: str
    url: str
    source: str
    severity: str
    first_at: float  # when the first of them was found
    count: int
    sources: tuple[str, ...]
    reposts: int | None  # summed over the group; None when the store keeps no engagement
    comments: int | None


@dataclass(frozen=True)
class StorySummary:
    """A story among the most found in a period."""

    story_id: int
    title: str
    count: int  # items found in the period
    total: int  # items found up to the end of the period
    negative: int  # of ``count``
    first_seen: float  # its first item ever found
    last_seen: float  # its last item found in the period
    sources: tuple[str, ...]
    sample_url: str
    peak_items: int = 0  # the most of its items found in the period within one SPREAD_WINDOW

    @property
    def peak_spread(self) -> float:
        """Its fastest spread in the period, items per hour (rules' ``spread``)."""
        return self.peak_items * 3600 / SPREAD_WINDOW


@dataclass(frozen=True)
class TimelineEntry:
    """One audit entry of an incident (shown through :mod:`yuqingd.reports.audit`)."""

    at: float
    action: str  # opened | escalated | missed.* | acknowledged | report.* | closed | …
    actor: str  # "yuqingd" for the daemon itself
    fields: Mapping[str, Any]
    level: int  # the escalation level notified once this happened

    @property
    def note(self) -> str:
        """A person's own note, or ""."""
        return str(self.fields.get("note", ""))


@dataclass(frozen=True)
class IncidentSummary:
    """An incident active during a period, as it stood at the end of the period."""

    id: str
    rule_id: str
    key: str
    title: str
    severity: str
    opened_at: float
    status: str  # open | acknowledged | reported | closed
    last_report: str | None  # first | follow_up | final
    acked_by: str | None
    acked_at: float | None
    level: int
    chain: tuple[str, ...]  # the roles of its escalation chain, level 1 first
    item_count: int
    items: tuple[tuple[str, str], ...]  # (title, url) of the newest items
    timeline: tuple[TimelineEntry, ...]
    carried_over: bool  # opened before the period and not closed when it began
    silenced: tuple[float, ...] = ()  # when its notifications were withheld by a silence


@dataclass(frozen=True)
class WeeklyData:
    """Everything a weekly briefing shows, for ``start`` ≤ t < ``end`` (epoch seconds)."""

    start: float
    end: float
    total: int
    previous_total: int  # in the same length of time just before ``start``
    story_count: int
    sources: tuple[Tally, ...]
    sentiments: tuple[Tally, ...]  # negative, neutral, positive (then any other stored value)
    severities: tuple[Tally, ...]  # of the negative items, 一般 … 特别重大
    topics: tuple[Tally, ...]  # an item may count under several topics
    top_stories: tuple[StorySummary, ...]
    negative: tuple[ItemGroup, ...]
    negative_groups: int  # groups in all; ``negative`` holds the first few
    positive: tuple[ItemGroup, ...]
    positive_groups: int
    incidents: tuple[IncidentSummary, ...]
    misses: tuple[MissRow, ...] = ()  # obligations missed in the week, in the order recorded

    def sentiment(self, name: str) -> int:
        """Items of one sentiment (by the name its tally has)."""
        return next((t.count for t in self.sentiments if t.name == name), 0)

    @property
    def opened(self) -> tuple[IncidentSummary, ...]:
        """Incidents opened during the week."""
        return tuple(i for i in self.incidents if not i.carried_over)

    @property
    def unclosed(self) -> tuple[IncidentSummary, ...]:
        """Incidents still not closed when the week ended."""
        return tuple(i for i in self.incidents if i.status != "closed")


@dataclass(frozen=True)
class ShiftItem:
    """An item found in a shift, for the duty report."""

    title: str
    url: str
    source: str
    severity: str
    at: float  # found
    incident: str  # the incident it opened or joined in the shift, or ""
    engagement: int  # reposts + comments


@dataclass(frozen=True)
class SourceActivity:
    """One source in a shift: items found, how many negative, when it last gave one, failures."""

    name: str
    count: int
    negative: int
    last_at: float | None  # its last item found up to the shift's end
    dead_letters: int


@dataclass(frozen=True)
class ShiftData:
    """What the store knows about ``start`` ≤ t < ``end`` for a duty report."""

    sources: tuple[SourceActivity, ...]  # the configured ones, then others with items/failures
    negative: tuple[ShiftItem, ...]  # found in the shift, in the order found
    positive: tuple[ShiftItem, ...]
    incidents: tuple[IncidentSummary, ...]
    notes: tuple[HandoverNoteRow, ...]
    misses: tuple[MissRow, ...] = ()  # obligations missed in the shift, in the order recorded


# the interface ------------------------------------------------------------------------------


class Store(Protocol):
    """What yuqingd keeps. Synchronous; see the module docstring for the contract."""

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All-or-nothing, not re-entrant; never held across an ``await``."""
        ...

    # items, stories, cursors
    def add_item(self, item: Item, enrichment: Enrichment, author_hash: str, at: float,
                 story_id: int | None = None) -> bool: ...
    def has_item(self, source: str, item_id: str) -> bool: ...
    def item(self, source: str, item_id: str) -> ItemRow | None: ...
    def item_count(self) -> int: ...
    def recent_stories(self, since: float) -> list[tuple[int, int]]: ...
    def recent_story_items(self, since: float, first: int,
                           recent_since: float) -> list[StoryItem]:
        """Items of the stories last seen at or after ``since``: the ``first`` earliest of
        each, and all found at or after ``recent_since``; oldest first."""
        ...
    def add_story(self, simhash: int, title: str, at: float) -> int: ...
    def touch_story(self, story_id: int, at: float) -> None: ...
    def story(self, story_id: int) -> StoryRow | None: ...
    def cursor(self, source: str) -> str | None: ...
    def set_cursor(self, source: str, cursor: str, at: float) -> None: ...
    def add_dead_letter(self, at: float, source: str, item_id: str, error: str,
                        item: dict[str, Any]) -> None: ...
    def dead_letter_count(self) -> int: ...

    # retention of personal information (PIPL)
    def purge(self, before: float, at: float) -> Purged:
        """Inside a transaction: items found before ``before`` lose their text, URL, title and
        author hash, except the title and URL of items an incident cites (each item is purged
        once; its row stays, so it is still known as seen); stories last seen before it and
        citing no such item lose their title; rule hits, firings and dead letters older than it
        are deleted. Records ``at`` as the last run."""
        ...
    def last_purge(self) -> float | None:
        """When :meth:`purge` last ran, or None."""
        ...

    # rule state: firings, activity, tags, schedules, windows
    def add_firing(self, rule_id: str, key: str, at: float) -> None: ...
    def last_firing(self, rule_id: str, key: str) -> float | None: ...
    def touch_activity(self, kind: str, key: str, at: float) -> None: ...
    def last_activity(self, kind: str, key: str) -> float | None: ...
    def tag_item(self, source: str, item_id: str, tag: str) -> None: ...
    def item_tags(self, source: str, item_id: str) -> list[str]: ...
    def schedule_last(self, rule_id: str) -> float | None: ...
    def set_schedule_last(self, rule_id: str, at: float) -> None: ...
    def add_hit(self, rule_id: str, key: str, item: Item, at: float) -> None: ...
    def count_hits(self, rule_id: str, key: str, since: float,
                   before: float = float("inf")) -> int: ...
    def hits_in_window(self, rule_id: str, key: str,
                       since: float) -> list[tuple[str, str, float]]: ...

    # incidents
    def active_incident(self, rule_id: str, key: str) -> IncidentRow | None: ...
    def incident(self, incident_id: str) -> IncidentRow | None: ...
    def incidents(self, status: str | None = None) -> list[IncidentRow]: ...
    def next_incident_id(self, day: str) -> str: ...
    def add_incident(self, incident_id: str, rule_id: str, key: str, title: str, severity: str,
                     chain: Sequence[LevelStep | Mapping[str, Any]], at: float) -> None: ...
    def attach_item(self, incident_id: str, source: str, item_id: str, at: float) -> None: ...
    def incident_items(self, incident_id: str, newest: int = 5) -> list[ItemRow]: ...
    def last_closed(self, rule_id: str, key: str) -> float | None: ...
    def last_item_at(self, incident_id: str) -> float | None: ...
    def close_incident(self, incident_id: str, at: float) -> None: ...
    def set_level(self, incident_id: str, level: int) -> None: ...
    def acknowledge(self, incident_id: str, by: str, note: str, at: float) -> int:
        """Acknowledge; returns how many ack deadlines this met (0: none was pending)."""
        ...
    def set_incident_deadlines(self, incident_id: str, deadlines: dict[str, Any]) -> None: ...
    def set_stage(self, incident_id: str, stage: str) -> None: ...
    def set_severity(self, incident_id: str, severity: str) -> None: ...

    # incident deadlines
    def add_deadline(self, incident_id: str, kind: str, level: int, due_at: float) -> int: ...
    def next_deadline(self) -> float | None: ...
    def due_deadlines(self, now: float) -> list[DeadlineRow]: ...
    def settle_deadline(self, deadline_id: int, at: float) -> bool: ...
    def meet_deadlines(self, incident_id: str, kinds: tuple[str, ...], at: float) -> int: ...
    def cancel_ladder(self, incident_id: str, at: float) -> None: ...
    def repeats_done(self, incident_id: str) -> int: ...
    def level_told(self, incident_id: str, level: int) -> bool: ...
    def fired_deadlines(self, incident_id: str, kind: str, level: int) -> int: ...
    def record_miss(self, deadline_id: int, role: str, who: str,
                    excused: str | None = None) -> None:
        """Who held the responsible role when the deadline passed; ``excused`` says why the
        miss is not held against them (``silenced``: every notification of that level was
        withheld), None when it is."""
        ...
    def incident_deadlines(self, incident_id: str) -> list[DeadlineRow]: ...
    def next_incident_deadline(self, incident_id: str) -> DeadlineRow | None: ...
    def pending_reports(self, incident_id: str) -> int: ...

    # obligations missed (every kind: see yuqingd.runtime.obligations)
    def add_miss(self, miss: MissRow) -> int: ...
    def misses(self, start: float, end: float) -> list[MissRow]:
        """Misses recorded at ``start`` ≤ t < ``end``, in the order recorded."""
        ...
    def incident_misses(self, incident_id: str) -> list[MissRow]: ...

    # audit
    def audit(self, at: float, action: str, actor: str, incident_id: str | None = None,
              fields: Mapping[str, Any] | None = None) -> None:
        """Write one audit entry (call :meth:`yuqingd.runtime.audit.Audit.record`, which also
        emits and logs it). ``fields`` are JSON values; they come back as written."""
        ...
    def incident_audit(self, incident_id: str) -> list[AuditRow]: ...
    def last_audit(self, incident_id: str, action: str) -> float | None: ...

    # outbox
    def enqueue(self, notification_id: str, channel: str, payload: dict[str, Any],
                at: float) -> None: ...
    def pending_outbox(self, channel: str, now: float, limit: int = 50) -> list[OutboxRow]: ...
    def next_retry(self, channel: str) -> float | None: ...
    def undelivered_count(self) -> int: ...
    def oldest_undelivered(self) -> float | None:
        """When the oldest notification not yet delivered was written; None: none waits."""
        ...
    def mark_delivered(self, notification_id: str, at: float) -> None: ...
    def mark_failed(self, notification_id: str, error: str, retry_at: float) -> None: ...
    def undelivered_outbox(self, channel: str) -> list[OutboxRow]:
        """Every undelivered notification of ``channel``, due or not, in written order."""
        ...
    def move_notification(self, notification_id: str, channel: str, payload: dict[str, Any],
                          from_channel: str, at: float) -> None:
        """Send ``notification_id`` through ``channel`` instead (a person's fallback): its
        attempts start again, due at ``at``; ``fallback_from`` records ``from_channel``."""
        ...
    def add_fallback(self, notification_id: str, channel: str, payload: dict[str, Any],
                     from_channel: str, created_at: float, at: float) -> bool:
        """A new notification standing in on ``channel`` for some recipients of one on
        ``from_channel``; ``created_at`` is the original's, so it keeps its place in order.
        False (nothing written) when ``notification_id`` is taken."""
        ...
    def set_outbox_payload(self, notification_id: str, payload: dict[str, Any]) -> None: ...
    def channel_failed(self, channel: str, at: float) -> None:
        """Note a failed send; the first one after a success starts the failing time."""
        ...
    def channel_recovered(self, channel: str) -> None: ...
    def channel_failing_since(self, channel: str) -> float | None:
        """When ``channel`` began failing (no success since), or None when it is not."""
        ...
    def incident_outbox(self, incident_id: str) -> list[OutboxRow]:
        """The incident's notifications, delivered or not, in written order."""
        ...

    # expectations (check-in, submissions) and roster gap warnings
    def add_expectation(self, *, kind: str, subject: str, title: str, role: str, who: str,
                        due_at: float, ladder: Sequence[LadderStep], at: float,
                        state: str = "pending", met_by: str | None = None,
                        note: str = "") -> bool: ...
    def expectation(self, kind: str, subject: str) -> ExpectationRow | None: ...
    def expectations(self, kind: str | None = None,
                     prefix: str = "") -> list[ExpectationRow]: ...
    def next_expectation_at(self) -> float | None: ...
    def due_expectations(self, now: float) -> list[ExpectationRow]: ...
    def update_expectation(self, expectation_id: int, **changes: Any) -> None:
        """Set columns of an expectation (``ladder`` as a sequence of :class:`LadderStep`)."""
        ...
    def expectation_cursor(self, name: str) -> float | None: ...
    def set_expectation_cursor(self, name: str, at: float) -> None: ...
    def expectation_cursor_names(self) -> list[str]: ...
    def drop_expectation_cursor(self, name: str) -> None: ...
    def mark_gap_warned(self, key: str, at: float) -> bool: ...

    # reports and handover notes
    def keep_report(self, kind: str, period: str, at: float, markdown: str,
                    html: str) -> bool: ...
    def kept_report(self, kind: str, period: str) -> ReportRow | None: ...
    def set_handover_note(self, shift: str, by: str, note: str, at: float) -> None: ...
    def handover_notes(self, shift: str) -> list[HandoverNoteRow]: ...
    def weekly_data(self, start: float, end: float, *, top_stories: int, negative_limit: int,
                    positive_limit: int) -> WeeklyData: ...
    def shift_data(self, start: float, end: float, shift: str,
                   sources: Sequence[str] = ()) -> ShiftData: ...

    # watches and silences
    def start_watch(self, *, rule_id: str, kind: str, key: str, title: str, by: str,
                    recipients: Mapping[str, list[str]], at: float, ends_at: float,
                    summary_every: float, latest_end: float) -> int: ...
    def watch(self, watch_id: int) -> WatchRow | None: ...
    def running_watches(self) -> list[WatchRow]: ...
    def running_watch_for(self, rule_id: str, kind: str, key: str) -> WatchRow | None: ...
    def set_watch_end(self, watch_id: int, ends_at: float) -> None: ...
    def next_watch_time(self) -> float | None: ...
    def add_watch_item(self, watch_id: int, source: str, item_id: str, at: float,
                       reported: bool = False) -> bool: ...
    def watch_items(self, watch_id: int, *, unreported: bool = False) -> list[WatchItemRow]: ...
    def record_watch_summary(self, watch_id: int, next_summary: float | None) -> None: ...
    def finish_watch(self, watch_id: int, at: float, by: str) -> None: ...
    def add_silence(self, scope: str, target: str, at: float, ends_at: float, reason: str,
                    by: str) -> int: ...
    def silence(self, silence_id: int) -> SilenceRow | None: ...
    def active_silences(self, now: float) -> list[SilenceRow]: ...
    def remove_silence(self, silence_id: int, at: float, by: str) -> None: ...

    # bearer tokens of the HTTP API
    def add_token(self, name: str, person: str | None, digest: str, at: float) -> int:
        """A new live token; raises ValueError when a live token already has ``name``."""
        ...
    def tokens(self) -> list[TokenRow]: ...
    def token_by_digest(self, digest: str) -> TokenRow | None: ...
    def revoke_token(self, token_id: int, at: float) -> bool:
        """Revoke a live token; False when there is none with ``token_id``."""
        ...
    def touch_token(self, token_id: int, at: float) -> None: ...

