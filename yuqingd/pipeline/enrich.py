"""Enrichment: watched entities (by name or alias), sentiment, and a readable why."""

from __future__ import annotations

from yuqingd.model import Enrichment, EntityHit, Item
from yuqingd.pipeline.normalize import normalize
from yuqingd.rules.loader import RuleSet


class Enricher:
    def __init__(self, ruleset: RuleSet):
        # Longest spelling first, so "耒阳六处学校" is reported rather than its prefix "六处".
        self._spellings = [
            (entity.name, spelling, normalize(spelling))
            for entity in ruleset.entities
            for spelling in sorted({entity.name, *entity.aliases}, key=len, reverse=True)
        ]
        self._negative = [(w, normalize(w)) for w in ruleset.negative_words]
        self._positive = [(w, normalize(w)) for w in ruleset.positive_words]

    def enrich(self, item: Item) -> Enrichment:
        text = normalize(f"{item.title}\n{item.text}")
        hits: dict[str, EntityHit] = {}
        for entity, spelling, needle in self._spellings:
            if entity not in hits and needle in text:
                hits[entity] = EntityHit(entity, spelling)
        negative = tuple(w for w, n in self._negative if n in text)
        positive = tuple(w for w, n in self._positive if n in text)
        score = (len(positive) - len(negative)) / max(1, len(positive) + len(negative))
        sentiment = "negative" if score < 0 else "positive" if score > 0 else "neutral"
        return Enrichment(
            entities=tuple(hits.values()),
            sentiment=sentiment,
            sentiment_score=score,
            negative_words=negative,
            why=_why(hits.values(), negative, positive),
        )


def _why(hits, negative, positive) -> str:
    parts = []
    for hit in hits:
        via = "" if hit.via == hit.entity else f"（别名 {hit.via}）"
        parts.append(f"命中 {hit.entity}{via}")
    if negative:
        parts.append("负面词: " + "、".join(negative))
    if positive:
        parts.append("正面词: " + "、".join(positive))
    return "；".join(parts) or "未命中监测对象"
