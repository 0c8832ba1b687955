"""Enrichment and rule features: watched entities (however spelt), topics, sentiment,
severity, exclusions, keyword hits — found in one pass of one Aho-Corasick automaton over the
item's compact view (:mod:`yuqingd.pipeline.normalize`).

Severity of an item comes from its topics, not from its sentiment: the highest severity of the
topics it *asserts* (``topics: {校园安全: {keywords: […], severity: 重大}}``) — a topic word
under a negation or prevention (没有人溺水, 防溺水) or reported in a denied rumour (网传…溺水，
经核查不实) does not count. It goes one step up when the item has spread (reposts + comments ≥
``SPREAD_BUMP``) and is negative or asserts a topic. A flat report — 校车侧翻，多名学生受伤 — is
as serious as an angry one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import structlog

from yuqingd.enrichers import Enricher
from yuqingd.model import Enrichment, Item
from yuqingd.pipeline import names, sentiment
from yuqingd.pipeline.matcher import Matcher, Payload
from yuqingd.pipeline.normalize import Compact, compact, normalize, normalize_text
from yuqingd.pipeline.privacy import author_hashes, hash_author
from yuqingd.rules.compiler import rule_keywords
from yuqingd.rules.conditions import Features
from yuqingd.rules.loader import RuleSet
from yuqingd.severity import RANK, SEVERITIES

log = structlog.get_logger("yuqingd.pipeline")
SPREAD_BUMP = 1000
TOPIC, KEYWORD, EXCLUDE = "topic", "keyword", "exclude"
_TOKEN_KINDS = frozenset(sentiment.KINDS)


@dataclass(frozen=True)
class Analysis:
    """An item as the rules see it."""

    enrichment: Enrichment
    flags: frozenset[str]  # item-level features (see rules.conditions)
    numbers: dict[str, int]
    asserted_topics: tuple[str, ...] = ()  # topics stated as happening (they set severity)

    def facts(self) -> list[Features]:
        """One fact per watched entity the item names (or one without an entity)."""
        names_ = [hit.entity for hit in self.enrichment.entities] or [""]
        return [Features(name, self.flags, self.numbers) for name in names_]




class Analyzer:
    def __init__(self, ruleset: RuleSet, source_kinds: dict[str, str] | None = None, *,
                 salt: bytes = b"", enrichers: Sequence[tuple[str, Enricher]] = ()):
        self.ruleset = ruleset
        self.source_kinds = source_kinds or {}
        self.salt = salt
        self.enrichers = tuple(enrichers)
        self.lexicon = _lexicon(ruleset)
        m = Matcher()
        names.add_entities(m, ruleset.entities)
        for topic in ruleset.topics.values():
            for word in topic.keywords:
                m.add(word, TOPIC, topic.name, exact_digits=True)
        for word in ruleset.exclude:
            m.add(word, EXCLUDE, word, exact_digits=True)
        self._keywords: set[tuple[str, str]] = set()
        for rule in ruleset.rules:
            self._keywords |= rule_keywords(rule.condition)
        for word in {w for _, w in self._keywords}:
            m.add(word, KEYWORD, word, exact_digits=True)
        for word, kind, value in self.lexicon.needles():
            m.add(word, kind, value, exact_digits=True)
        self._matcher = m.build()
        self._authors = {key: author_hashes(entries, salt)
                         for key, entries in ruleset.author_lists.items()}

    def view(self, item: Item) -> tuple[Compact, int]:
        """The item's compact view (title, line break, text) and where its text starts."""
        normalized = normalize_text(f"{item.title}\n{item.text}" if item.text else item.title)
        view = compact(normalized)
        if not item.text:
            return view, len(view.text)
        return view, view.from_normalized(normalized.from_original(len(item.title) + 1))

    def analyze(self, item: Item) -> Analysis:
        view, text_start = self.view(item)
        hits = list(self._matcher.find(view.text, view.plain))
        entity_hits: list[tuple[int, int, Payload]] = []
        tokens: list[sentiment.Token] = []
        topic_hits: list[tuple[int, str]] = []
        keywords: dict[str, set[str]] = {"title": set(), "text": set()}
        excluded = ""
        for start, end, p in hits:
            kind = p.kind
            if kind in _TOKEN_KINDS:
                tokens.append(sentiment.Token(start, end, kind, p.key, p.word))
            elif kind == TOPIC:
                topic_hits.append((start, p.key))
            elif kind == KEYWORD:
                if start < text_start:
                    keywords["title"].add(p.word)
                if end > text_start:
                    keywords["text"].add(p.word)
            elif kind == EXCLUDE:
                excluded = excluded or p.word
            else:
                entity_hits.append((start, end, p))
        entities = names.resolve(entity_hits, view)
        emoji = _emoji_marks(view, self.lexicon.sarcasm_emoji)
        feeling = sentiment.score(sentiment.longest_tokens(tokens), view, emoji)
        topics = tuple(dict.fromkeys(name for _, name in sorted(topic_hits)))
        asserted = tuple(dict.fromkeys(
            name for start, name in sorted(topic_hits) if feeling.asserts(start)))
        severity = self._severity(feeling.label, asserted, item)
        enrichment = Enrichment(
            entities=tuple(entities), sentiment=feeling.label, sentiment_score=feeling.score,
            negative_words=tuple(feeling.negative_words), topics=topics, severity=severity,
            excluded_by=excluded, positive_words=tuple(feeling.positive_words),
            negations=tuple(feeling.negated), denials=tuple(dict.fromkeys(feeling.denied_by)),
            sarcasm=tuple(dict.fromkeys(feeling.sarcasm)), why="",
        )
        enrichment = self._plugin_scores(item, enrichment)
        enrichment = replace(enrichment, why=why(enrichment))
        flags = {f"sentiment:{enrichment.sentiment}", f"source:{item.source}"}
        if item.source in self.source_kinds:
            flags.add(f"kind:{self.source_kinds[item.source]}")
        flags |= {f"topic:{t}" for t in topics}
        if topics:
            flags.add("topic:*")
        found = {"title": keywords["title"], "text": keywords["text"],
                 "both": keywords["title"] | keywords["text"]}
        flags |= {f"kw:{where}:{w}" for where, w in self._keywords if w in found[where]}
        author = hash_author(item.author, self.salt)
        flags |= {f"author:{key}" for key, hashes in self._authors.items()
                  if author and author in hashes}
        numbers = {"severity": RANK[enrichment.severity], "reposts": item.reposts,
                   "comments": item.comments}
        return Analysis(enrichment, frozenset(flags), numbers, asserted)

    def _plugin_scores(self, item: Item, enrichment: Enrichment) -> Enrichment:
        """Scores from enricher plugins; one that fails is logged and skipped for this item."""
        for plugin, enricher in self.enrichers:
            try:
                score = enricher.score(item, enrichment)
            except Exception as exc:
                log.warning("enricher.failed", plugin=plugin, enricher=enricher.name,
                            item=item.id, error=f"{type(exc).__name__}: {exc}")
                continue
            if score is None:
                continue
            scores = (*enrichment.scores, (enricher.name, float(score.value)))
            if enricher.replace_sentiment and score.label is not None:
                enrichment = replace(enrichment, sentiment=score.label,
                                     sentiment_score=float(score.value), scores=scores)
            else:
                enrichment = replace(enrichment, scores=scores)
        return enrichment

    def _severity(self, label: str, asserted: tuple[str, ...], item: Item) -> str:
        rank = max((RANK[self.ruleset.topics[t].severity] for t in asserted),
                   default=0)
        if (asserted or label == "negative") and item.reposts + item.comments >= SPREAD_BUMP:
            rank = min(rank + 1, len(SEVERITIES) - 1)
        return SEVERITIES[rank]


def _lexicon(ruleset: RuleSet) -> sentiment.Lexicon:
    lexicon = sentiment.shipped_lexicon().extended(
        negative=dict.fromkeys(ruleset.negative_words, 1.0),
        positive=dict.fromkeys(ruleset.positive_words, 1.0))
    for ext in ruleset.lexicons:
        lexicon = lexicon.extended(
            negative=ext.negative, positive=ext.positive, degree=ext.degree,
            cues={sentiment.NEGATION: ext.negation, sentiment.PREVENTION: ext.prevention,
                  sentiment.CONTRAST: ext.contrast, sentiment.DENIAL: ext.denial,
                  sentiment.SARCASM: ext.sarcasm, sentiment.RUMOUR: ext.rumour})
    return lexicon


def _emoji_marks(view: Compact, emoji: tuple[str, ...]) -> list[int]:
    """Compact positions of sarcasm emoji (the compact view itself has no emoji)."""
    text = view.normalized.text
    marks = []
    for e in emoji:
        at = text.find(e)
        if at >= 0:
            marks.append(view.from_normalized(at))
    return marks


@functools.lru_cache(maxsize=4096)
def _same(a: str, b: str) -> bool:
    return normalize(a) == normalize(b)


def why(e: Enrichment) -> str:
    """The one-line Chinese summary stored with the item and shown in alerts."""
    parts = []
    for hit in e.entities:
        via = "" if _same(hit.via, hit.entity) else f"（别名 {hit.via}）"
        if hit.quote and hit.quote != hit.via and not _same(hit.quote, hit.via):
            via += f"（原文「{hit.quote}」）"
        parts.append(f"命中 {hit.entity}{via}")
    for label, values in (("主题", e.topics), ("负面词", e.negative_words),
                          ("正面词", e.positive_words), ("否定", e.negations),
                          ("辟谣", e.denials), ("反讽", e.sarcasm)):
        if values:
            parts.append(f"{label}: " + "、".join(values))
    for name, value in e.scores:
        parts.append(f"{name}: {value:+.2f}")
    if e.excluded_by:
        parts.append(f"含排除词「{e.excluded_by}」，不参与规则匹配")
    return "；".join(parts) or "未命中监测对象"

