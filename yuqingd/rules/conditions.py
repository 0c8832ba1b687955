"""Match conditions as a small tree (the rules' intermediate form), evaluated over features.

A rule's ``match:`` compiles to this tree; both engines (durable-rules and pure Python) evaluate
the same tree, and ``yuqingd explain`` walks it to say why an item matched or not.

Features of one *fact* (an item seen through one of its watched entities):
- ``entity``: the watched name (``""`` when the item names none);
- ``flags``: facts about the item, as strings: ``topic:校园安全``, ``topic:*`` (has any topic),
  ``sentiment:negative``, ``source:county-news``, ``kind:rss``, ``kw:title:体罚`` /
  ``kw:text:…`` / ``kw:both:…`` (keyword present), ``author:<list>`` (author in a list);
- ``numbers``: ``severity`` (0 一般 … 3 特别重大), ``reposts``, ``comments``, ``spread`` (items
  of the item's story within the last ``SPREAD_WINDOW``, itself included).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from yuqingd.located import msg


@dataclass(frozen=True)
class Features:
    entity: str
    flags: frozenset[str]
    numbers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    name: str


@dataclass(frozen=True)
class EntityIs:
    names: frozenset[str] | None  # None: any watched entity


@dataclass(frozen=True)
class AtLeast:
    number: str
    value: int


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Any:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Flag | EntityIs | AtLeast | All | Any | Not
TRUE = All(())


def evaluate(cond: Condition, f: Features) -> bool:
    """The pure-Python evaluation every engine must agree with."""
    if isinstance(cond, Flag):
        return cond.name in f.flags
    if isinstance(cond, EntityIs):
        return f.entity != "" and (cond.names is None or f.entity in cond.names)
    if isinstance(cond, AtLeast):
        return f.numbers.get(cond.number, 0) >= cond.value
    if isinstance(cond, All):
        return all(evaluate(p, f) for p in cond.parts)
    if isinstance(cond, Any):
        return any(evaluate(p, f) for p in cond.parts)
    if isinstance(cond, Not):
        return not evaluate(cond.part, f)
    raise TypeError(f"not a condition: {cond!r}")


def walk(cond: Condition) -> Iterator[Condition]:
    """Every node of the tree, depth first."""
    yield cond
    if isinstance(cond, All | Any):
        for part in cond.parts:
            yield from walk(part)
    elif isinstance(cond, Not):
        yield from walk(cond.part)


def flags_used(cond: Condition) -> set[str]:
    return {node.name for node in walk(cond) if isinstance(node, Flag)}


def simplify(cond: Condition) -> Condition:
    """Flatten one-element and nested same-kind groups (smaller engine rules, clearer explain)."""
    if isinstance(cond, All | Any):
        kind = type(cond)
        parts: list[Condition] = []
        for part in (simplify(p) for p in cond.parts):
            parts.extend(part.parts if isinstance(part, kind) else (part,))
        return parts[0] if len(parts) == 1 else kind(tuple(parts))
    if isinstance(cond, Not):
        inner = simplify(cond.part)
        return inner.part if isinstance(inner, Not) else Not(inner)
    return cond


SENTIMENTS = {"negative": ("负面", "negative"), "neutral": ("中性", "neutral"),
              "positive": ("正面", "positive")}
FIELDS = {"title": ("标题", "title"), "text": ("正文", "text"),
          "both": ("标题或正文", "title or text")}
NUMBERS = {"severity": ("严重程度（0 一般 … 3 特别重大）", "severity (0 一般 … 3 特别重大)"),
           "reposts": ("转发数", "reposts"), "comments": ("评论数", "comments"),
           "spread": ("所属报道最近 3 小时的条数", "items of its story in the last 3 hours")}


def describe_flag(name: str) -> str:
    """A flag as policy staff would say it."""
    kind, _, value = name.partition(":")
    if name == "topic:*":
        return msg("有任一主题", "has a topic")
    if kind == "kw":
        where, _, word = value.partition(":")
        zh, en = FIELDS.get(where, (where, where))
        return msg(f"{zh}含「{word}」", f"{en} contains “{word}”")
    if kind == "sentiment":
        zh, en = SENTIMENTS.get(value, (value, value))
        return msg(f"情感为 {zh}", f"sentiment is {en}")
    described = {"topic": ("主题为", "topic is"), "source": ("来源为", "source is"),
                 "kind": ("来源类型为", "source kind is"), "author": ("作者在名单", "author is in")}
    if kind in described:
        zh, en = described[kind]
        return msg(f"{zh} {value}", f"{en} {value}")
    return name


def explain(cond: Condition, f: Features, depth: int = 0) -> list[str]:
    """Lines saying which conditions held (✓) and which did not (✗), in the user's language."""
    ok = evaluate(cond, f)
    mark = "✓" if ok else "✗"
    pad = "  " * depth
    if isinstance(cond, Flag):
        return [f"{pad}{mark} {describe_flag(cond.name)}"]
    if isinstance(cond, EntityIs):
        if cond.names is None:
            what = msg("提及任一监测对象", "mentions a watched entity")
        else:
            what = msg("提及监测对象 ", "mentions ") + msg("、", ", ").join(sorted(cond.names))
        seen = (msg(f"（本条: {f.entity}）", f" (here: {f.entity})") if f.entity
                else msg("（本条未提及监测对象）", " (the item names no watched entity)"))
        return [f"{pad}{mark} {what}{seen}"]
    if isinstance(cond, AtLeast):
        have = f.numbers.get(cond.number, 0)
        zh, en = NUMBERS.get(cond.number, (cond.number, cond.number))
        return [f"{pad}{mark} {msg(zh, en)} ≥ {cond.value}"
                + msg(f"（本条: {have}）", f" (here: {have})")]
    if isinstance(cond, All):
        if not cond.parts:
            return [f"{pad}✓ " + msg("无条件", "no condition")]
        lines = ([f"{pad}{mark} " + msg("以下全部满足:", "all of:")]
                 if depth or len(cond.parts) > 1 else [])
        inner = depth + 1 if lines else depth
        for part in cond.parts:
            lines += explain(part, f, inner)
        return lines
    if isinstance(cond, Any):
        lines = [f"{pad}{mark} " + msg("以下任一满足:", "any of:")]
        for part in cond.parts:
            lines += explain(part, f, depth + 1)
        return lines
    if isinstance(cond, Not):
        return [f"{pad}{mark} " + msg("不满足:", "not:"), *explain(cond.part, f, depth + 1)]
    raise TypeError(f"not a condition: {cond!r}")
