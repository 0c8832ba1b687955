"""The public API for yuqingd plugins: import from here, and only from here.

Everything a source, notifier or enricher plugin may use is re-exported by this module; every
other module of ``yuqingd`` is internal and may change in any release. ``API_VERSION`` follows
semantic versioning: a new minor adds names or optional arguments, a new major removes or changes
something. A plugin states the major it was written against with a module-level ``YUQINGD_API``
(an int); yuqingd refuses to load it when that is not ``API_MAJOR`` (see docs/plugins.md).
"""

from __future__ import annotations

from yuqingd import hookimpl
from yuqingd.cards import Card, card
from yuqingd.cards.custom import CardOptions, ChannelTexts
from yuqingd.enrichers import LABELS, Enricher, Score
from yuqingd.model import (
    Action,
    Due,
    Enrichment,
    EntityHit,
    Item,
    Notification,
    NotifiedItem,
    Recipient,
)
from yuqingd.notifiers import (
    DeliveryRejected,
    Notifier,
    NotifierContext,
    NotifierKind,
    NotifierSpec,
    RetryAfter,
)
from yuqingd.schema_types import STRICT, Duration, NonEmptyStr, PositiveDuration
from yuqingd.secrets import Secret, SecretRef
from yuqingd.severity import SEVERITIES
from yuqingd.sources import HEALTH_STATES, Source, SourceContext, SourceKind, SourceSpec
from yuqingd.time.clock import Clock

# 1.1: Notification.deadlines, actions, key; items are NotifiedItem. 1.2: notification cards
# (card, Card, CardOptions, ChannelTexts).
API_VERSION = "1.2"
API_MAJOR = int(API_VERSION.split(".")[0])

__all__ = [
    "API_MAJOR",
    "API_VERSION",
    "Action",
    "Card",
    "CardOptions",
    "ChannelTexts",
    "HEALTH_STATES",
    "LABELS",
    "SEVERITIES",
    "STRICT",
    "Clock",
    "Due",
    "Duration",
    "EntityHit",
    "Enricher",
    "Enrichment",
    "Item",
    "NonEmptyStr",
    "Notification",
    "NotifiedItem",
    "Notifier",
    "NotifierContext",
    "DeliveryRejected",
    "RetryAfter",
    "NotifierKind",
    "NotifierSpec",
    "PositiveDuration",
    "Recipient",
    "Score",
    "Secret",
    "SecretRef",
    "Source",
    "SourceContext",
    "SourceKind",
    "SourceSpec",
    "card",
    "hookimpl",
]
