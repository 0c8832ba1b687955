"""Rules → condition trees, with every name they use checked against what is defined."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yuqingd.located import did_you_mean
from yuqingd.model import SPREAD_WINDOW
from yuqingd.rules.conditions import (
    TRUE,
    All,
    AtLeast,
    Condition,
    EntityIs,
    Flag,
    Not,
    simplify,
    walk,
)
from yuqingd.rules.conditions import (
    Any as AnyOf,
)
from yuqingd.rules.model import SEVERITY_RANK, Match, Rule


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: Condition
    topics: frozenset[str] | None  # topics the match names (keys for per: topic); None = any
    sources: frozenset[str] | None  # sources the match names (keys for flatline per source)
    kinds: frozenset[str] | None = None  # source kinds the match names (flatline per source)
    notify_roles: tuple[str, ...] = ()  # then.notify with "$lists" expanded
    notify_channels: tuple[str, ...] = ()
    watch_roles: tuple[str, ...] = ()  # then.watch.notify with "$lists" expanded

    @property
    def id(self) -> str:
        return self.rule.id


def rule_keywords(condition: Condition) -> set[tuple[str, str]]:
    """(field, word) pairs a condition tests, so features are computed only for those."""
    out = set()
    for node in walk(condition):
        if isinstance(node, Flag) and node.name.startswith("kw:"):
            _, where, word = node.name.split(":", 2)
            out.add((where, word))
    return out


class RuleCompiler:
    def __init__(self, *, entities: set[str], topics: set[str], key_dates: set[str],
                 chains: set[str], names: Any, expand: Callable, error: Callable,
                 macros: dict[str, tuple[Match, Any, tuple]] | None = None):
        self.macros = macros or {}  # name → (condition, its file, its location)
        self._expanding: tuple[str, ...] = ()
        self.entities = entities
        self.topics = topics
        self.key_dates = key_dates
        self.chains = chains
        self.names = names
        self.expand = expand
        self.error = error
        self.author_lists: dict[str, list[str]] = {}

    def compile(self, rule: Rule, f, loc: tuple) -> CompiledRule | None:
        self.f, self.rule = f, rule
        self._failures: list = []
        self._authors_seen = 0
        self._notify_targets: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._watch_roles: tuple[str, ...] = ()
        condition = simplify(self._match(rule.match, (*loc, "match"))) if rule.match else TRUE
        self._check_then(rule, loc)
        for field_name in ("only_on", "except_on"):
            for i, name in enumerate(getattr(rule, field_name)):
                if name != "any" and name not in self.key_dates:
                    self._fail((*loc, field_name, i), f"未定义的重点日期 '{name}'（或写 any）"
                               + did_you_mean(name, self.key_dates),
                               f"undefined key date '{name}'")
        if self._failures:
            return None
        return CompiledRule(rule, condition, self._named(condition, "topic:"),
                            self._named(condition, "source:"), self._named(condition, "kind:"),
                            *self._notify_targets, self._watch_roles)

    @staticmethod
    def _named(condition: Condition, prefix: str) -> frozenset[str] | None:
        named = {n.name[len(prefix):] for n in walk(condition)
                 if isinstance(n, Flag) and n.name.startswith(prefix) and n.name != prefix + "*"}
        return frozenset(named) or None

    def _fail(self, loc, zh: str, en: str) -> None:
        self._failures.append(loc)
        self.error(self.f, loc, zh, en)

    def _words(self, value: str | list[str], loc: tuple) -> list[str]:
        """The value as a list, "$lists" expanded (errors land on the value or its element)."""
        return self.expand([value] if isinstance(value, str) else list(value), self.f, loc)

    def _names(self, value, loc, known: set[str] | frozenset[str] | None, what_zh: str,
               what_en: str) -> list[str]:
        words = self._words(value, loc)
        if known is not None:
            for word in words:
                if word not in known:
                    zh = (f"监测名单中没有 '{word}'（或写 any）" if what_en == "entity"
                          else f"未定义的{what_zh} '{word}'")
                    self._fail(loc, zh + did_you_mean(word, known), f"undefined {what_en} '{word}'")
        return words

    def _match(self, m: Match, loc: tuple) -> Condition:
        parts: list[Condition] = []
        if m.entity is not None:
            if m.entity == "any":
                parts.append(EntityIs(None))
            else:
                names = self._names(m.entity, (*loc, "entity"), self.entities, "监测对象",
                                    "entity")
                parts.append(EntityIs(frozenset(names)))
        if m.topic is not None:
            if m.topic == "any":
                parts.append(Flag("topic:*"))
            else:
                topics = self._names(m.topic, (*loc, "topic"), self.topics, "主题", "topic")
                parts.append(AnyOf(tuple(Flag(f"topic:{t}") for t in topics)))
        if m.sentiment is not None:
            values = [m.sentiment] if isinstance(m.sentiment, str) else m.sentiment
            parts.append(AnyOf(tuple(Flag(f"sentiment:{s}") for s in values)))
        if m.severity_at_least is not None:
            parts.append(AtLeast("severity", SEVERITY_RANK[m.severity_at_least]))
        if m.source is not None:
            sources = self._names(m.source, (*loc, "source"), self.names.sources, "信息源",
                                  "source")
            parts.append(AnyOf(tuple(Flag(f"source:{s}") for s in sources)))
        if m.source_kind is not None:
            kinds = self._names(m.source_kind, (*loc, "source_kind"), self.names.source_kinds,
                                "信息源类型", "source kind")
            parts.append(AnyOf(tuple(Flag(f"kind:{k}") for k in kinds)))
        if m.keywords is not None:
            parts += self._keywords(m.keywords, (*loc, "keywords"))
        if m.engagement is not None:
            if m.engagement.reposts is not None:
                parts.append(AtLeast("reposts", m.engagement.reposts))
            if m.engagement.comments is not None:
                parts.append(AtLeast("comments", m.engagement.comments))
            if m.engagement.spread is not None:
                # The fact carries the story's items within SPREAD_WINDOW (an exact count).
                parts.append(AtLeast("spread",
                                     math.ceil(m.engagement.spread * SPREAD_WINDOW / 3600)))
        if m.author_in is not None:
            parts.append(self._authors(m.author_in, (*loc, "author_in")))
        if m.any_ is not None:
            parts.append(AnyOf(tuple(self._match(x, (*loc, "any", i))
                                     for i, x in enumerate(m.any_))))
        if m.all_ is not None:
            parts.append(All(tuple(self._match(x, (*loc, "all", i))
                                   for i, x in enumerate(m.all_))))
        if m.macro is not None:
            for name in [m.macro] if isinstance(m.macro, str) else m.macro:
                parts.append(self._macro(name, (*loc, "macro")))
        if m.not_ is not None:
            parts.append(Not(self._match(m.not_, (*loc, "not"))))
        return All(tuple(parts))

    def _macro(self, name: str, loc: tuple) -> Condition:
        """A named condition, compiled where it is used (errors inside point at the macro)."""
        if name not in self.macros:
            self._fail(loc, f"未定义的条件宏 '{name}'" + did_you_mean(name, self.macros),
                       f"undefined macro '{name}'")
            return All(())
        if name in self._expanding:
            self._fail(loc, f"条件宏 '{name}' 循环引用自身", f"macro '{name}' refers to itself")
            return All(())
        match, f, macro_loc = self.macros[name]
        outer_f, self.f = self.f, f
        self._expanding += (name,)
        try:
            return self._match(match, macro_loc)
        finally:
            self._expanding = self._expanding[:-1]
            self.f = outer_f

    def _keywords(self, kw, loc) -> list[Condition]:
        where = kw.in_

        def flags(words, key):
            return tuple(Flag(f"kw:{where}:{w}") for w in self.expand(words, self.f, (*loc, key)))

        parts: list[Condition] = []
        if kw.any_:
            parts.append(AnyOf(flags(kw.any_, "any")))
        if kw.all_:
            parts.append(All(flags(kw.all_, "all")))
        if kw.none:
            parts.append(Not(AnyOf(flags(kw.none, "none"))))
        return parts

    def _authors(self, value, loc) -> Condition:
        if isinstance(value, str) and value.startswith("$"):
            key = value[1:]
        else:  # an inline list: one key per occurrence in the rule
            self._authors_seen += 1
            key = f"{self.rule.id}.author_in.{self._authors_seen}"
        self.author_lists[key] = self._words(value, loc)
        return Flag(f"author:{key}")

    def _check_then(self, rule: Rule, loc: tuple) -> None:
        then = rule.then
        if then.incident and then.incident.chain not in self.chains:
            chain = then.incident.chain
            self._fail((*loc, "then", "incident", "chain"), f"未定义的升级链 '{chain}'"
                       + did_you_mean(chain, self.chains), f"undefined chain '{chain}'")
        if then.notify:
            roles = channels = []
            if then.notify.role is not None:
                roles = self._names(then.notify.role, (*loc, "then", "notify", "role"),
                                    self.names.roles, "角色", "role")
            if then.notify.channel is not None:
                channels = self._names(then.notify.channel, (*loc, "then", "notify", "channel"),
                                       self.names.notifiers, "通知渠道", "notifier")
            self._notify_targets = (tuple(roles), tuple(channels))
        if then.watch and then.watch.notify is not None:
            self._watch_roles = tuple(self._names(
                then.watch.notify, (*loc, "then", "watch", "notify"), self.names.roles, "角色",
                "role"))
