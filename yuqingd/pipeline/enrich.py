"""Enrichment and rule features: watched entities (by name or alias), topics, sentiment,
severity, exclusions, keyword hits — found in one pass of an Aho-Corasick automaton per field.

Severity of an item: 一般 unless it is negative; a negative item takes the highest severity of
its topics (``topics: {校园安全: {keywords: […], severity: 重大}}``), and one step more when it
has spread (reposts + comments ≥ ``SPREAD_BUMP``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ahocorasick

from yuqingd.model import Enrichment, EntityHit, Item
from yuqingd.pipeline.normalize import normalize
from yuqingd.rules.compiler import hash_author, rule_keywords
from yuqingd.rules.conditions import Features
from yuqingd.rules.loader import RuleSet
from yuqingd.rules.model import SEVERITY_RANK

SPREAD_BUMP = 1000
SEVERITIES = list(SEVERITY_RANK)


@dataclass(frozen=True)
class Analysis:
    """An item as the rules see it."""

    enrichment: Enrichment
    flags: frozenset[str]  # item-level features (see rules.conditions)
    numbers: dict[str, int]

    def facts(self) -> list[Features]:
        """One fact per watched entity the item names (or one without an entity)."""
        names = [hit.entity for hit in self.enrichment.entities] or [""]
        return [Features(name, self.flags, self.numbers) for name in names]


class _Automaton:
    """All needles of one kind of field, found in one pass."""

    def __init__(self) -> None:
        self._a = ahocorasick.Automaton()
        self._needles: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def add(self, needle: str, kind: str, payload: str) -> None:
        needle = normalize(needle)
        if needle:
            self._needles[needle].append((kind, payload))

    def build(self) -> _Automaton:
        for needle, values in self._needles.items():
            self._a.add_word(needle, (needle, values))
        if self._needles:
            self._a.make_automaton()
        return self

    def find(self, text: str) -> dict[str, list[tuple[str, str]]]:
        """kind → [(payload, matched needle)] present in ``text``."""
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        if not self._needles:
            return found
        seen = set()
        for _, (needle, values) in self._a.iter(text):
            if needle in seen:
                continue
            seen.add(needle)
            for kind, payload in values:
                found[kind].append((payload, needle))
        return found


class Analyzer:
    def __init__(self, ruleset: RuleSet, source_kinds: dict[str, str] | None = None):
        self.ruleset = ruleset
        self.source_kinds = source_kinds or {}
        a = _Automaton()
        for entity in ruleset.entities:
            for spelling in {entity.name, *entity.aliases}:
                a.add(spelling, "entity", entity.name)
        for topic in ruleset.topics.values():
            for word in topic.keywords:
                a.add(word, "topic", topic.name)
        for word in ruleset.negative_words:
            a.add(word, "negative", word)
        for word in ruleset.positive_words:
            a.add(word, "positive", word)
        for word in ruleset.exclude:
            a.add(word, "exclude", word)
        self._keywords: set[tuple[str, str]] = set()
        for rule in ruleset.rules:
            self._keywords |= rule_keywords(rule.condition)
        for _, word in self._keywords:
            a.add(word, "keyword", word)
        self._automaton = a.build()

    def analyze(self, item: Item) -> Analysis:
        title = self._automaton.find(normalize(item.title))
        body = self._automaton.find(normalize(item.text))
        both = {k: title.get(k, []) + body.get(k, []) for k in set(title) | set(body)}

        entities: dict[str, EntityHit] = {}
        # Longest spelling wins the "via": "耒阳六处学校" rather than its prefix "六处".
        for name, needle in sorted(both.get("entity", []), key=lambda p: -len(p[1])):
            entities.setdefault(name, EntityHit(name, needle))
        topics = tuple(dict.fromkeys(name for name, _ in both.get("topic", [])))
        negative = tuple(dict.fromkeys(w for w, _ in both.get("negative", [])))
        positive = tuple(dict.fromkeys(w for w, _ in both.get("positive", [])))
        score = (len(positive) - len(negative)) / max(1, len(positive) + len(negative))
        sentiment = "negative" if score < 0 else "positive" if score > 0 else "neutral"
        severity = self._severity(sentiment, topics, item)
        excluded = next((w for w, _ in both.get("exclude", [])), "")
        enrichment = Enrichment(
            entities=tuple(entities.values()), sentiment=sentiment, sentiment_score=score,
            negative_words=negative, topics=topics, severity=severity, excluded_by=excluded,
            why=_why(entities.values(), topics, negative, positive, excluded),
        )
        flags = {f"sentiment:{sentiment}", f"source:{item.source}"}
        if item.source in self.source_kinds:
            flags.add(f"kind:{self.source_kinds[item.source]}")
        flags |= {f"topic:{t}" for t in topics}
        if topics:
            flags.add("topic:*")
        found = {"title": {w for w, _ in title.get("keyword", [])},
                 "text": {w for w, _ in body.get("keyword", [])}}
        found["both"] = found["title"] | found["text"]
        flags |= {f"kw:{where}:{w}" for where, w in self._keywords if w in found[where]}
        author = hash_author(item.author)
        flags |= {f"author:{key}" for key, hashes in self.ruleset.author_lists.items()
                  if author and author in hashes}
        numbers = {"severity": SEVERITY_RANK[severity], "reposts": item.reposts,
                   "comments": item.comments}
        return Analysis(enrichment, frozenset(flags), numbers)

    def _severity(self, sentiment: str, topics: tuple[str, ...], item: Item) -> str:
        if sentiment != "negative":
            return "一般"
        rank = max((SEVERITY_RANK[self.ruleset.topics[t].severity] for t in topics), default=0)
        if item.reposts + item.comments >= SPREAD_BUMP:
            rank = min(rank + 1, len(SEVERITIES) - 1)
        return SEVERITIES[rank]


def _why(hits, topics, negative, positive, excluded) -> str:
    parts = []
    for hit in hits:
        via = "" if normalize(hit.via) == normalize(hit.entity) else f"（别名 {hit.via}）"
        parts.append(f"命中 {hit.entity}{via}")
    if topics:
        parts.append("主题: " + "、".join(topics))
    if negative:
        parts.append("负面词: " + "、".join(negative))
    if positive:
        parts.append("正面词: " + "、".join(positive))
    if excluded:
        parts.append(f"含排除词「{excluded}」，不参与规则匹配")
    return "；".join(parts) or "未命中监测对象"


