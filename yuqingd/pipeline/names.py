"""Watched names found however people spell them, and not where they are ordinary words.

Spellings are matched in the compact view (separators, punctuation, emoji, HTML, 繁體,
full-width and — unless the entity says ``digits: false`` — digit forms do not matter). Two
guards keep a short alias from matching ordinary Chinese:

- the entity's own ``not:`` phrases: a spelling found inside one of them is not the name
  (六处 in 景区新增六处停车场);
- a spelling that starts with a numeral is a count, not a name, right after a word that
  introduces a number — 有, 共, 新增, 这, 几, 第, a numeral — or a grade (初二中…, 高二中…),
  also with an aspect particle between (新增了六处, 建过六处): 全县有六处学校 is "six schools";
- a spelling that ends in 中 (二中, 城关一中) is not the school when 中 starts another word
  written right after it: the verb zhòng (中毒, 中暑, 中奖, 中招 …) or 中心 (第二中心小学 is
  another school).
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
ASPECT = frozenset("了过")  # 新增了六处: the count word, an aspect particle, the numeral
# After a name's final 中, the characters that make 中 another word: zhòng (中毒, 中暑, 中奖,
# 中标, 中招, 中弹, 中枪, 中风, 中邪, 中计) and 中心 (中心小学, 中心校).
ZHONG_WORDS = frozenset("毒暑奖标招弹枪风邪计心")


@dataclass(frozen=True)
class Spelling:
    entity: str
    word: str  # as configured
    numeral_first: bool
    zhong_last: bool = False


def add_entities(matcher: Matcher, entities: tuple[Entity, ...] | list[Entity]) -> None:
    for entity in entities:
        for word in dict.fromkeys((entity.name, *entity.aliases)):
            folded = compact_needle(word)[0]
            key = Spelling(entity.name, word, folded[:1] in NUMERALS, folded.endswith("中"))
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
        if spelling.numeral_first and _after_count_word(view.text, start):
            continue
        if spelling.zhong_last and _zhong_starts_a_word(view, end):
            continue
        held = best.get(spelling.entity)
        if held is None or end - start > held[1] - held[0]:
            best[spelling.entity] = (start, end, spelling)
    return [EntityHit(s.entity, s.word, view.quote(a, z)) for a, z, s in best.values()]


def _after_count_word(text: str, start: int) -> bool:
    before = text[start - 1:start]
    if before in ASPECT and start > 1:
        before = text[start - 2]
    return before != "" and before in COUNT_BEFORE


def _zhong_starts_a_word(view: Compact, end: int) -> bool:
    """Whether the character after a final 中 makes it another word, written right after it
    (no separator between: 城关二中，毒品宣传 is still the school)."""
    if end >= len(view.text) or view.text[end] not in ZHONG_WORDS:
        return False
    return view.norm_pos(end) == view.norm_pos(end - 1) + 1
