"""The pipeline task: enrich each item, store it, match rules, count windows, open incidents.

One item is one transaction: the item, its source cursor, its rule hits and any incident it
opens (with the incident's deadlines and notifications) are committed together or not at all.

Window semantics: a rule's ``threshold: {count: N, within: W, per: entity}`` holds when, for one
entity, N matching items fall within the last W before the newest one's arrival (an item exactly
W old still counts). Windows slide: every new item looks back W from its own arrival. An item
counts at its publication time when the source gives one earlier than its arrival, else at its
arrival; so a source catching up on old posts does not open incidents for the past.

An open (unacknowledged) incident collects every further match of its rule and key. Once
acknowledged, it keeps collecting while matches keep coming; after a whole window without one it
is closed, and a later burst opens a new incident.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3

import structlog
import trio

from yuqingd.clock import Clock
from yuqingd.escalation.incidents import Escalation
from yuqingd.model import Item
from yuqingd.pipeline.enrich import Enricher
from yuqingd.rules.engine import DurableMatcher, Matcher
from yuqingd.rules.loader import RuleSet
from yuqingd.store.sqlite import Store

log = structlog.get_logger("yuqingd.pipeline")

# Float epoch arithmetic must not drop an item that arrived exactly ``within`` ago.
WINDOW_EPSILON = 1e-6


def hash_author(author: str) -> str:
    """Authors are kept only as a hash: enough to see one account posting repeatedly."""
    return hashlib.sha256(author.encode()).hexdigest()[:16] if author else ""


class Pipeline:
    def __init__(self, store: Store, clock: Clock, escalation: Escalation, on_incident):
        self.store = store
        self.clock = clock
        self.escalation = escalation
        self._on_incident = on_incident  # wakes the scheduler and delivery after a commit
        self.ruleset: RuleSet | None = None
        self.matcher: Matcher | None = None
        self.enricher: Enricher | None = None
        self.processed = 0

    def set_rules(self, ruleset: RuleSet) -> None:
        """Swap in a (re)loaded rule set; windows live in the store and so survive."""
        self.enricher = Enricher(ruleset)
        if self.ruleset is None or self.ruleset.rules != ruleset.rules:
            # durable-rules leaks each ruleset it builds (~0.5 MB here): build only on change.
            self.matcher = DurableMatcher(ruleset.rules)
        self.ruleset = ruleset

    async def run(
        self, receive: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        """Process items until every sender has closed (the shutdown drain), then return."""
        task_status.started()
        async with receive:
            async for item, cursor in receive:
                try:
                    opened = self.process(item, cursor)
                except sqlite3.OperationalError:
                    raise  # the store itself fails (disk full…): exit, systemd restarts us
                except Exception as exc:
                    self._set_aside(item, cursor, exc)
                    continue
                if opened:
                    self._on_incident()
                await trio.lowlevel.checkpoint()

    def _set_aside(self, item: Item, cursor: str | None, exc: Exception) -> None:
        """Keep an item we failed to process (a bug, bad data) and move on, instead of dying
        on it again after every restart."""
        log.exception("item.failed", source=item.source, item=item.id, error=str(exc))
        now = self.clock.time()
        with self.store.transaction():
            self.store.add_dead_letter(
                now, item.source, item.id, f"{type(exc).__name__}: {exc}", dataclasses.asdict(item)
            )
            if cursor is not None:
                self.store.set_cursor(item.source, cursor, now)

    def process(self, item: Item, cursor: str | None) -> list[str]:
        """Handle one item; returns the ids of incidents it opened."""
        assert self.enricher and self.matcher and self.ruleset
        now = self.clock.time()
        enrichment = self.enricher.enrich(item)
        opened: list[str] = []
        with self.store.transaction():
            if cursor is not None:
                self.store.set_cursor(item.source, cursor, now)
            if not self.store.add_item(item, enrichment, hash_author(item.author), now):
                log.debug("item.duplicate", source=item.source, item=item.id)
                return []
            self.processed += 1
            log.info(
                "item.stored",
                source=item.source,
                item=item.id,
                title=item.title,
                sentiment=enrichment.sentiment,
                why=enrichment.why,
            )
            # A post counts at its publication time when that is known and earlier.
            at = min(now, item.published_at) if item.published_at is not None else now
            for hit in enrichment.entities:
                fact = {"entity": hit.entity, "sentiment": enrichment.sentiment}
                for rule_id in self.matcher.match(fact):
                    incident = self._count(rule_id, hit.entity, item, at, now)
                    if incident:
                        opened.append(incident)
        return opened

    def _count(self, rule_id: str, key: str, item: Item, at: float, now: float) -> str | None:
        rule = self.ruleset.rule(rule_id) if self.ruleset else None
        assert rule is not None
        self.store.add_hit(rule.id, key, item, at)
        active = self.store.active_incident(rule.id, key)
        if active and self._settled(active, rule.threshold.within, now):
            active = None
        if active:
            self.store.attach_item(active.id, item.source, item.id, now)
            log.info("incident.item_attached", incident=active.id, rule=rule.id, key=key)
            return None
        since = now - rule.threshold.within - WINDOW_EPSILON
        if self.store.count_hits(rule.id, key, since) < rule.threshold.count:
            return None
        window = self.store.hits_in_window(rule.id, key, since)
        return self.escalation.open(rule, key, window, now)

    def _settled(self, incident, within: float, now: float) -> bool:
        """An acknowledged incident that has been quiet for a whole window is over: close it,
        so a later burst opens a new incident instead of vanishing into the old one."""
        if incident.status != "acknowledged":
            return False
        last = max(incident.acked_at or 0, self.store.last_item_at(incident.id) or 0)
        if now - last <= within:
            return False
        self.escalation.close(incident.id, now, note=f"确认后 {within:g}s 内无新信息，自动关闭")
        return True
