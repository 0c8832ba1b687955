"""What crosses channels and what is stored: frozen records."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from yuqingd.severity import LOWEST

# A story's spread speed is its items per hour over this window (rules' `spread`, the weekly
# briefing's fastest spread).
SPREAD_WINDOW = 3 * 3600

# What one item may hold (characters): longer text is cut, a longer id is refused.
TEXT_LIMITS = {"title": 1_000, "text": 65_536, "url": 4_096, "author": 256}
MAX_ID = 2_048
MAX_COUNT = 2**53 - 1  # reposts/comments: exact in JSON and in a float


@dataclass(frozen=True)
class Item:
    """One post/article/comment as a source found it."""

    source: str
    id: str  # guid or URL, unique within the source
    title: str
    text: str = ""
    url: str = ""
    author: str = ""  # hashed before it is stored
    published_at: float | None = None  # epoch seconds
    reposts: int = 0
    comments: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, in the plugin's own task, so a malformed item cannot reach the pipeline.
        for name in ("source", "id", "title", "text", "url", "author"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Item.{name} must be a str, not {type(getattr(self, name))}")
        if not self.id:
            raise ValueError("Item.id must not be empty")
        if len(self.id) > MAX_ID:
            raise ValueError(f"Item.id is longer than {MAX_ID} characters")
        for name in ("reposts", "comments"):
            count = getattr(self, name)
            if not isinstance(count, int) or isinstance(count, bool):
                raise TypeError(f"Item.{name} must be an int")
            if not 0 <= count <= MAX_COUNT:
                raise ValueError(f"Item.{name} must be between 0 and {MAX_COUNT}, not {count}")
        # A huge post is kept, cut: analysing 6 MB of text held the event loop for seconds.
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            if len(value) > limit:
                object.__setattr__(self, name, value[:limit])
        published = self.published_at
        if published is not None and not (
            isinstance(published, int | float) and math.isfinite(published)
        ):
            raise TypeError("Item.published_at must be epoch seconds (float) or None")

    def cleaned(self, *, source: str) -> Item:
        """A copy from ``source`` whose text is valid UTF-8 (lone surrogates, as left by
        scrapers cutting an emoji in half, become U+FFFD)."""
        fixed = {
            name: _valid_text(getattr(self, name))
            for name in ("id", "title", "text", "url", "author")
        }
        return replace(self, source=source, **fixed)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _valid_text(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


@dataclass(frozen=True)
class EntityHit:
    entity: str
    via: str  # the name or alias that matched
    quote: str = ""  # the original text it matched in (六 处 学 校, 六<b>处</b>学校)


@dataclass(frozen=True)
class Enrichment:
    """What the pipeline learned about an item, with a readable why."""

    entities: tuple[EntityHit, ...]
    sentiment: str  # negative | neutral | positive
    sentiment_score: float
    negative_words: tuple[str, ...]
    why: str
    topics: tuple[str, ...] = ()
    severity: str = LOWEST
    excluded_by: str = ""  # the exclusion word found, if any: such items match no rule
    positive_words: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()  # "没有…体罚": words a negation or prevention turned
    denials: tuple[str, ...] = ()  # 不实, 辟谣: a rumour denial cancelled the negatives
    sarcasm: tuple[str, ...] = ()  # markers that turned praise into criticism
    scores: tuple[tuple[str, float], ...] = ()  # scores added by enricher plugins


@dataclass(frozen=True)
class Recipient:
    role: str
    person: str


@dataclass(frozen=True)
class NotifiedItem:
    """An item a notification points at, for a notifier that shows it as a card or link."""

    title: str
    url: str = ""
    source: str = ""
    at: str = ""  # ISO 8601 with offset: when the item was found (or posted), if known

    # Notifier plugins written when items were {"title", "url"} dicts keep working.
    def __getitem__(self, name: str) -> str:
        if name not in _ITEM_FIELDS:
            raise KeyError(name)
        return str(getattr(self, name))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self[name] if name in _ITEM_FIELDS else default

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "source": self.source, "at": self.at}


_ITEM_FIELDS = ("title", "url", "source", "at")


@dataclass(frozen=True)
class Due:
    """A deadline the recipients are held to (确认, 首报, 签到 …)."""

    kind: str  # ack | first_report | follow_up | final_report | check_in | submission …
    label: str  # its Chinese name, as the text says it
    at: str  # ISO 8601 with offset


@dataclass(frozen=True)
class Action:
    """Something a recipient can do about the notification, and the command that does it."""

    name: str  # ack | report | check_in | submit
    label: str  # Chinese, for a button
    command: str  # the yuqingd command line, as the text gives it
    # A signed link that does it from a phone, made for ``person`` (empty when the daemon's
    # HTTP endpoint is not configured); a channel renders the links of the people it reaches.
    url: str = ""
    person: str = ""


@dataclass(frozen=True)
class Notification:
    """One message to one channel; ``id`` is stable across retries (an idempotency key).

    ``text`` is the rendered Chinese message; beside it the structured fields (``kind``,
    ``title``, ``severity``, ``incident``, ``items``, ``deadlines``, ``actions``) let a
    card-style notifier build its own layout without parsing the text."""

    id: str
    kind: str  # incident.opened | incident.escalated | incident.repeated | incident.acknowledged
    channel: str
    incident: str
    rule: str
    title: str
    severity: str
    level: int
    to: tuple[Recipient, ...]
    at: str  # ISO 8601 with offset
    text: str  # the Chinese message a duty officer reads
    items: tuple[NotifiedItem, ...] = ()  # the newest items, newest last
    deadlines: tuple[Due, ...] = ()
    actions: tuple[Action, ...] = ()
    key: str = ""  # the rule's group key (watched name, source, story …)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "incident": self.incident,
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "level": self.level,
            "to": [{"role": r.role, "person": r.person} for r in self.to],
            "at": self.at,
            "text": self.text,
            "items": [i.as_dict() for i in self.items],
            "deadlines": [{"kind": d.kind, "label": d.label, "at": d.at} for d in self.deadlines],
            "actions": [{"name": a.name, "label": a.label, "command": a.command,
                         **({"url": a.url, "person": a.person} if a.url else {})}
                        for a in self.actions],
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        """Read an outbox payload, also one written before the structured fields existed."""
        return cls(
            **{
                **data,
                "to": tuple(Recipient(**r) for r in data["to"]),
                "items": tuple(NotifiedItem(**i) for i in data.get("items", ())),
                "deadlines": tuple(Due(**d) for d in data.get("deadlines", ())),
                "actions": tuple(Action(**a) for a in data.get("actions", ())),
            }
        )
