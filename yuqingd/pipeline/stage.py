"""The pipeline task: analyse each item, store it, group it into a story, run the rules.

One item is one transaction: the item, its source cursor, its story, its rule hits and whatever
the rules do (incidents with their deadlines and notifications, watches, tags) are committed
together or not at all.

An item counts in windows at its publication time when the source gives one earlier than its
arrival, else at its arrival; so a source catching up on old posts does not open incidents for
the past. Rule semantics are in :mod:`yuqingd.runtime.matching`.
"""

from __future__ import annotations

import dataclasses

import structlog
import trio

from yuqingd.metrics import UNUSED
from yuqingd.model import Item
from yuqingd.pipeline.enrich import Analyzer
from yuqingd.pipeline.privacy import hash_author
from yuqingd.pipeline.stories import Stories
from yuqingd.rules.loader import RuleSet
from yuqingd.runtime.matching import RuleRunner
from yuqingd.store.api import Store, StoreError
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.pipeline")


class Pipeline:
    def __init__(self, store: Store, clock: Clock, runner: RuleRunner, on_change, *,
                 salt: bytes = b"", enrichers: tuple = ()):
        self.store = store
        self.clock = clock
        self.runner = runner
        self.stories = Stories(store)
        self._on_change = on_change  # wakes the scheduler and delivery after a commit
        self.analyzer: Analyzer | None = None
        self.processed = 0
        self.salt = salt  # authors are stored as salted hashes (pipeline.privacy)
        self.enrichers = enrichers
        self.meters = UNUSED  # the daemon's, once it runs

    def set_rules(self, ruleset: RuleSet, source_kinds: dict[str, str]) -> None:
        """Swap in a (re)loaded rule set; windows live in the store and so survive."""
        analyzer = Analyzer(ruleset, source_kinds, salt=self.salt, enrichers=self.enrichers)
        self.runner.set_rules(ruleset, source_kinds, self.clock.time())
        self.analyzer = analyzer

    async def run(
        self, receive: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        """Process items until every sender has closed (the shutdown drain), then return."""
        loaded = self.stories.load(self.clock.time())
        log.info("stories.loaded", items=loaded, stories=len(self.stories.index))
        task_status.started()
        async with receive:
            async for item, cursor, emitted in receive:
                self.handle(item, cursor)
                self.meters.pipeline_latency.observe(trio.current_time() - emitted)
                await trio.lowlevel.checkpoint()

    def handle(self, item: Item, cursor: str | None) -> None:
        """Process one item, setting it aside if processing fails for a reason of its own."""
        try:
            fired = self.process(item, cursor)
        except StoreError:
            raise  # the store itself fails (disk full…): exit, systemd restarts us
        except Exception as exc:
            self._set_aside(item, cursor, exc)
            return
        if fired:
            self._on_change()

    def _set_aside(self, item: Item, cursor: str | None, exc: Exception) -> None:
        """Keep an item we failed to process (a bug, bad data) and move on, instead of dying
        on it again after every restart."""
        log.exception("item.failed", source=item.source, item=item.id, error=str(exc))
        now = self.clock.time()
        with self.store.transaction():
            self.store.add_dead_letter(now, item.source, item.id, f"{type(exc).__name__}: {exc}",
                                       dataclasses.asdict(item))
            if cursor is not None:
                self.store.set_cursor(item.source, cursor, now)

    def process(self, item: Item, cursor: str | None) -> bool:
        """Handle one item; True when a rule fired."""
        assert self.analyzer is not None
        now = self.clock.time()
        analysis = self.analyzer.analyze(item)
        enrichment = analysis.enrichment
        with self.store.transaction():
            if cursor is not None:
                self.store.set_cursor(item.source, cursor, now)
            if self.store.has_item(item.source, item.id):
                log.debug("item.duplicate", source=item.source, item=item.id)
                return False
            events = [(hit.entity, topic) for hit in enrichment.entities
                      for topic in analysis.asserted_topics]
            story_id, new_story = self.stories.assign(item.title, item.text, now, events)
            analysis.numbers["spread"] = self.stories.recent(story_id, now)  # rules' spread
            self.store.add_item(item, enrichment, hash_author(item.author, self.analyzer.salt), now,
                                story_id)
            self.processed += 1
            self.meters.items.labels(item.source).inc()
            log.info("item.stored", source=item.source, item=item.id, title=item.title,
                     sentiment=enrichment.sentiment, severity=enrichment.severity,
                     story=story_id, why=enrichment.why)
            at = min(now, item.published_at) if item.published_at is not None else now
            return self.runner.on_item(item, analysis, at, now, story_id, new_story)
