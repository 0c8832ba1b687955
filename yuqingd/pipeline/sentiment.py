"""Sentiment a policy officer can read and tune: a lexicon of the project's own plus the
patterns people actually write in.

The words of an item are found in its compact view (see :mod:`yuqingd.pipeline.normalize`),
longest match first, and read clause by clause:

- a sentiment word counts with its weight (``yuqingd/lexicon/sentiment.yaml``, extended by
  rule packs), times a degree word just before it (非常 ×1.6, 有点 ×0.6);
- a negation earlier in the same clause (没有, 并未, 不, 无) turns it round: a negated positive
  counts as negative (老师一点也不优秀), a negated negative counts for nothing (并没有体罚);
- a prevention word (严禁, 防止, 防) means what follows is not happening (严禁体罚, 防溺水);
- after a contrast word (但是, 然而) words count 1.5 times, before it in that sentence half;
- a rumour denial (网传…不实, 经核查…不存在, 辟谣) cancels the negative words reported before
  it and in its clause: the denial is news, the rumour is not;
- sarcasm (呵呵, 好一个, praise in quotation marks: "好"学校) makes praise in that sentence
  count as criticism.

The label is negative when the negative side outweighs the positive by at least
``THRESHOLD``, positive the other way round, else neutral. Every word, negation, denial and
sarcasm marker that decided it is reported, so the *why* can show it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from yuqingd.pipeline.normalize import Compact, compact_needle
from yuqingd.yaml_reader import parse_text

THRESHOLD = 0.75
NEGATION_REACH = 8  # compact characters a negation or prevention word reaches forward…
SHORT_NEGATION_REACH = 1  # … but 不 / 没 / 未 only the next word: 没写完…体罚 is not negated,
NOUN_NEGATION_REACH = 4  # 无 negates a noun phrase: 无人员伤亡, 无学生受伤
# … unless a light verb follows, which passes the negation on to its object: 未造成人员伤亡.
LIGHT_VERBS = ("造成", "发生", "出现", "导致", "引发", "引起", "遭受", "受到", "有过", "出过",
               "存在")
DEGREE_REACH = 4
CONTRAST_AFTER = 1.5
CONTRAST_BEFORE = 0.5
SARCASM_WEIGHT = 1.0  # mockery (好一个, 所谓的, 呵呵) is criticism on its own, like a negative word
# Quoted praise is sarcasm unless the quotes name an honour: 荣获“优秀教师”称号.
_HONOUR_AFTER = ("称号", "荣誉", "奖", "活动", "评选", "项目", "工程", "计划", "示范", "品牌")
_HONOUR_BEFORE = ("获", "评为", "授予", "授", "入选", "荣膺", "称为", "开展", "举办", "参加")

# Token kinds
NEG, POS, DEGREE, NEGATION, NOT_NEGATION, PREVENTION, CONTRAST, DENIAL, SARCASM, RUMOUR = (
    "neg", "pos", "degree", "negation", "not_negation", "prevention", "contrast", "denial",
    "sarcasm", "rumour")
KINDS = (NEG, POS, DEGREE, NEGATION, NOT_NEGATION, PREVENTION, CONTRAST, DENIAL, SARCASM,
         RUMOUR)


@dataclass(frozen=True)
class Lexicon:
    """word → (kind, value): the value is a weight for sentiment words, a factor for degree
    words, unused for cue words."""

    words: dict[str, tuple[str, float]]
    sarcasm_emoji: tuple[str, ...] = ()

    def needles(self) -> list[tuple[str, str, float]]:
        return [(w, k, v) for w, (k, v) in self.words.items()]

    def extended(self, *, negative: dict[str, float] | None = None,
                 positive: dict[str, float] | None = None,
                 degree: dict[str, float] | None = None,
                 cues: dict[str, list[str]] | None = None) -> Lexicon:
        """This lexicon with a rule pack's additions (later additions win)."""
        words = dict(self.words)
        for kind, table in ((NEG, negative), (POS, positive), (DEGREE, degree)):
            for word, value in (table or {}).items():
                words[word] = (kind, float(value))
        for kind, listed in (cues or {}).items():
            for word in listed:
                words[word] = (kind, 1.0)
        return Lexicon(words, self.sarcasm_emoji)


@functools.cache
def shipped_lexicon() -> Lexicon:
    """The lexicon that ships with yuqingd (package data)."""
    text = resources.files("yuqingd").joinpath("lexicon/sentiment.yaml").read_text("utf-8")
    return lexicon_from_yaml(parse_text(text, Path("yuqingd/lexicon/sentiment.yaml")).data)


def lexicon_from_yaml(data: dict[str, Any]) -> Lexicon:
    words: dict[str, tuple[str, float]] = {}
    # Cue words first: a word that is also a sentiment or degree word takes that meaning.
    for kind in (NEGATION, NOT_NEGATION, PREVENTION, CONTRAST, DENIAL, SARCASM, RUMOUR):
        for word in data.get(kind, []):
            words[str(word)] = (kind, 1.0)
    for factor, listed in data.get("degree", {}).items():
        for word in listed:
            words[str(word)] = (DEGREE, float(factor))
    for kind, key in ((NEG, "negative"), (POS, "positive")):
        for group in data.get(key, []):
            for word in group["words"]:
                words[str(word)] = (kind, float(group["weight"]))
    return Lexicon(words, tuple(str(e) for e in data.get("sarcasm_emoji", [])))


@dataclass(frozen=True)
class Token:
    start: int  # compact positions
    end: int
    kind: str
    value: float
    word: str  # as configured


@dataclass
class Sentiment:
    label: str  # negative | neutral | positive
    score: float  # -1 … 1
    negative: float = 0.0  # the weight on each side, after negation, degree, contrast…
    positive: float = 0.0
    negative_words: list[str] = field(default_factory=list)
    positive_words: list[str] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)  # "没有…体罚"
    denied_by: list[str] = field(default_factory=list)  # 不实, 辟谣
    sarcasm: list[str] = field(default_factory=list)
    # compact spans under a negation/prevention, and where a denial reaches: an event word
    # there is not asserted (topic severity ignores it)
    unasserted: list[tuple[int, int]] = field(default_factory=list)

    def asserts(self, start: int) -> bool:
        """Whether a word at compact ``start`` is stated as happening."""
        return not any(a <= start < z for a, z in self.unasserted)


def longest_tokens(tokens: list[Token]) -> list[Token]:
    """Leftmost-longest, non-overlapping."""
    tokens.sort(key=lambda t: (t.start, -(t.end - t.start)))
    out: list[Token] = []
    reach = -1
    for t in tokens:
        if t.start >= reach:
            out.append(t)
            reach = t.end
    return out


def score(tokens: list[Token], view: Compact, emoji_marks: list[int] = ()) -> Sentiment:
    """The sentiment of a text from its lexicon tokens (already leftmost-longest)."""
    result = Sentiment("neutral", 0.0)
    quoted = view.quoted
    # Sentences with a sarcasm marker; denial reaches.
    sarcastic_sentences = {view.sentence(p) for p in emoji_marks}
    denials: list[tuple[int, int]] = []  # (compact position, clause)
    contrasts: list[tuple[int, int]] = []  # (position, sentence)
    # A reported rumour (网传, 网上流传) refuted by a negation in a later clause (…并非本地发生,
    # …与我校无关) is a denial too.
    rumour = next((t for t in tokens if t.kind == RUMOUR), None)
    for t in tokens:
        if (rumour is not None and t.kind == NEGATION
                and view.clause(t.start) > view.clause(rumour.start)):
            denials.append((t.start, view.clause(t.start)))
            result.denied_by.append(f"{rumour.word}…{t.word}")
            continue
        if t.kind == SARCASM:
            sarcastic_sentences.add(view.sentence(t.start))
            result.sarcasm.append(t.word)
        elif t.kind == DENIAL:
            denials.append((t.start, view.clause(t.start)))
            result.denied_by.append(t.word)
        elif t.kind == CONTRAST:
            contrasts.append((t.start, view.sentence(t.start)))
    if emoji_marks:
        result.sarcasm.append("表情")
    # Quoted praise ("关心") makes its whole sentence sarcastic: 感谢学校的"关心" is no thanks.
    for t in tokens:
        if t.kind == POS and _quoted_praise(view, quoted, t):
            sarcastic_sentences.add(view.sentence(t.start))

    contributions: list[tuple[int, str, float, str]] = []  # (pos, side, weight, word)
    negation_at = -10**9
    negations = 0
    negation_clause = -1
    negation_word = ""
    negation_reach = NEGATION_REACH
    prevention_at = -10**9
    prevention_clause = -1
    degree = 1.0
    degree_end = -10**9
    for t in tokens:
        clause = view.clause(t.start)
        if t.kind == NEGATION:
            if clause == negation_clause and t.start - negation_at <= negation_reach:
                negations += 1
            else:
                negations = 1
            negation_at, negation_clause, negation_word = t.end, clause, t.word
            negation_reach = _reach(view, t)
            result.unasserted.append((t.start, _clause_end(view, t.end, negation_reach)))
            continue
        if t.kind == PREVENTION:
            prevention_at, prevention_clause = t.end, clause
            result.unasserted.append((t.start, _clause_end(view, t.end, NEGATION_REACH)))
            continue
        if t.kind == DEGREE:
            degree, degree_end = t.value, t.end
            continue
        if t.kind not in (NEG, POS):
            continue
        weight = t.value
        if t.start - degree_end <= DEGREE_REACH and view.clause(degree_end) == clause:
            weight *= degree
        degree_end = -10**9
        side = t.kind
        negated = (clause == negation_clause and t.start - negation_at <= negation_reach
                   and negations % 2 == 1)
        prevented = clause == prevention_clause and t.start - prevention_at <= NEGATION_REACH
        if prevented and side == NEG:
            result.negated.append(f"{t.word}（防范/禁止）")
            continue
        if negated:
            result.negated.append(f"{negation_word}…{t.word}")
            if side == NEG:
                continue  # "并没有体罚": not happening, and not praise either
            side, weight = NEG, weight * 0.8
        if side == POS and (view.sentence(t.start) in sarcastic_sentences
                            or _quoted_praise(view, quoted, t)):
            result.sarcasm.append(f"“{t.word}”")
            side = NEG
        contributions.append((t.start, side, weight, t.word))
    contributions += [(-1, NEG, SARCASM_WEIGHT, "") for _ in sarcastic_sentences]

    for pos, side, weight, word in contributions:
        if pos >= 0 and contrasts:
            sentence = view.sentence(pos)
            if any(cpos > pos and csent in (sentence, sentence + 1) for cpos, csent in contrasts):
                weight *= CONTRAST_BEFORE
            elif any(cpos < pos and csent in (sentence, sentence - 1)
                     for cpos, csent in contrasts):
                weight *= CONTRAST_AFTER
        if side == NEG and pos >= 0 and any(
                pos < dpos or view.clause(pos) == dclause for dpos, dclause in denials):
            continue  # the rumour a denial denies
        if side == NEG:
            result.negative += weight
            if word:
                result.negative_words.append(word)
        else:
            result.positive += weight
            result.positive_words.append(word)
    for dpos, _ in denials:
        result.unasserted.append((0, _clause_end(view, dpos, 10**6)))
    net = result.positive - result.negative
    total = result.positive + result.negative
    result.score = round(net / total, 3) if total else 0.0
    if net <= -THRESHOLD:
        result.label = "negative"
    elif net >= THRESHOLD:
        result.label = "positive"
    result.negative_words = list(dict.fromkeys(result.negative_words))
    result.positive_words = list(dict.fromkeys(result.positive_words))
    return result


def _reach(view: Compact, negation: Token) -> int:
    """How far a negation reaches forward (compact characters)."""
    if negation.end - negation.start > 1:
        return NEGATION_REACH
    if view.text.startswith(LIGHT_VERBS, negation.end):
        return NEGATION_REACH
    return NOUN_NEGATION_REACH if negation.word == "无" else SHORT_NEGATION_REACH


def _clause_end(view: Compact, pos: int, reach: int) -> int:
    """Where a cue at ``pos`` stops reaching: the clause end, or ``reach`` characters on."""
    breaks = view.clause_breaks
    i = view.clause(pos)
    end = breaks[i] if i < len(breaks) else len(view.text)
    return min(end, pos + reach)


def _quoted_praise(view: Compact, quoted: tuple[tuple[int, int], ...], t: Token) -> bool:
    for a, z in quoted:
        if a < t.end and t.start < z and z - a <= 4:
            after = view.text[z:z + 2]
            before = view.text[max(0, a - 2):a]
            if any(after.startswith(w) for w in _HONOUR_AFTER):
                return False
            return not any(before.endswith(w) for w in _HONOUR_BEFORE)
    return False


def needle_of(word: str) -> str:
    """How a lexicon word is looked for (its compact, digit-folded form)."""
    return compact_needle(word)[0]
