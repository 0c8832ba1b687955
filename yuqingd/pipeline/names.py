"""Watched names found however people spell them, and not where they are ordinary words.

Spellings are matched in the compact view (separators, punctuation, emoji, HTML, 繁體,
full-width and — unless the entity says ``digits: false`` — digit forms do not matter). Two
guards keep a short alias from matching ordinary Chinese:

- the entity's own ``not:`` phrases: a spelling found inside one of them is not the name
  (六处 in 景区新增六处停车场);
- a spelling that starts with a numeral is a count, not a name, right after a word that
  introduces a number — 有, 共, 新增, 这, 几, 第, a numeral — or a grade (初二中…, 高二中…):
  全县有六处学校 is "six schools".
"""

from __future__ import annotations

from dataclasses import dataclass

from yuqingd.model import EntityHit
from yuqingd.pipeline.matcher import Matcher, Payload
from yuqingd.pipeline.normalize import FOLDED_DIGITS, Compact, compact_needle
from yuqingd.rules.model import Entity

ENTITY, ENTITY_NOT = "entity", "entity_not"
NUMERALS = FOLDED_DIGITS | frozenset("十百千两")
COUNT_BEFORE = frozenset("有共增设建这那几余另第初高每各前后数约近超达") | NUMERALS


@dataclass(frozen=True)
class Spelling:
    entity: str
    word: str  # as configured
    numeral_first: bool


def add_entities(matcher: Matcher, entities: tuple[Entity, ...] | list[Entity]) -> None:
    for entity in entities:
        for word in dict.fromkeys((entity.name, *entity.aliases)):
            folded = compact_needle(word)[0]
            key = Spelling(entity.name, word, folded[:1] in NUMERALS)
            matcher.add(word, ENTITY, key, exact_digits=not entity.digits)
        for phrase in entity.not_:
            matcher.add(phrase, ENTITY_NOT, entity.name, exact_digits=not entity.digits)


def resolve(hits: list[tuple[int, int, Payload]], view: Compact) -> list[EntityHit]:
    """The entities named by ``hits`` (entity and entity_not payloads), longest spelling
    first, each with the original text that matched."""
    blocked: dict[str, list[tuple[int, int]]] = {}
    for start, end, p in hits:
        if p.kind == ENTITY_NOT:
            blocked.setdefault(p.key, []).append((start, end))
    best: dict[str, tuple[int, int, Spelling]] = {}
    for start, end, p in hits:
        if p.kind != ENTITY:
            continue
        spelling: Spelling = p.key
        if any(a <= start and end <= z for a, z in blocked.get(spelling.entity, ())):
            continue
        if spelling.numeral_first and start > 0 and view.text[start - 1] in COUNT_BEFORE:
            continue
        held = best.get(spelling.entity)
        if held is None or end - start > held[1] - held[0]:
            best[spelling.entity] = (start, end, spelling)
    return [EntityHit(s.entity, s.word, view.quote(a, z)) for a, z, s in best.values()]
