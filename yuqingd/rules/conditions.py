"""Match conditions as a small tree (the rules' intermediate form), evaluated over features.

A rule's ``match:`` compiles to this tree; both engines (durable-rules and pure Python) evaluate
the same tree, and ``yuqingd explain`` walks it to say why an item matched or not.

Features of one *fact* (an item seen through one of its watched entities):
- ``entity``: the watched name (``""`` when the item names none);
- ``flags``: facts about the item, as strings: ``topic:校园安全``, ``topic:*`` (has any topic),
  ``sentiment:negative``, ``source:county-news``, ``kind:rss``, ``kw:title:体罚`` /
  ``kw:text:…`` / ``kw:both:…`` (keyword present), ``author:<list>`` (author in a list);
- ``numbers``: ``severity`` (0 一般 … 3 特别重大), ``reposts``, ``comments``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Features:
    entity: str
    flags: frozenset[str]
    numbers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    name: str
    label: str = ""  # how explain describes it, in Chinese


@dataclass(frozen=True)
class EntityIs:
    names: frozenset[str] | None  # None: any watched entity


@dataclass(frozen=True)
class AtLeast:
    number: str
    value: int
    label: str = ""


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


def explain(cond: Condition, f: Features, depth: int = 0) -> list[str]:
    """Lines saying, in Chinese, which conditions held (✓) and which did not (✗)."""
    ok = evaluate(cond, f)
    mark = "✓" if ok else "✗"
    pad = "  " * depth
    if isinstance(cond, Flag):
        return [f"{pad}{mark} {cond.label or cond.name}"]
    if isinstance(cond, EntityIs):
        if cond.names is None:
            what = "提及任一监测对象"
        else:
            what = "提及监测对象 " + "、".join(sorted(cond.names))
        seen = f"（本条: {f.entity}）" if f.entity else "（本条未提及监测对象）"
        return [f"{pad}{mark} {what}{seen}"]
    if isinstance(cond, AtLeast):
        have = f.numbers.get(cond.number, 0)
        return [f"{pad}{mark} {cond.label or cond.number} ≥ {cond.value}（本条: {have}）"]
    if isinstance(cond, All):
        if not cond.parts:
            return [f"{pad}✓ 无条件"]
        lines = [f"{pad}{mark} 以下全部满足:"] if depth or len(cond.parts) > 1 else []
        inner = depth + 1 if lines else depth
        for part in cond.parts:
            lines += explain(part, f, inner)
        return lines
    if isinstance(cond, Any):
        lines = [f"{pad}{mark} 以下任一满足:"]
        for part in cond.parts:
            lines += explain(part, f, depth + 1)
        return lines
    if isinstance(cond, Not):
        return [f"{pad}{mark} 不满足:"] + explain(cond.part, f, depth + 1)
    raise TypeError(f"not a condition: {cond!r}")
