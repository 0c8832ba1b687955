"""Rule files → one validated, merged, compiled :class:`RuleSet` (or every error, located).

Each file is validated section by section, and each rule on its own, so one mistake does not hide
the others: ``yuqingd check`` lists them all. Files are merged in the order the config lists them:
lists and topics may be extended with ``{append: […]}`` from a later file, and ``overrides:``
retunes a rule defined elsewhere, so a shipped pack is tuned locally without being copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yuqingd.located import (
    ConfigError,
    LocatedDocument,
    LocatedError,
    did_you_mean,
    load_yaml,
    msg,
    validate,
)
from yuqingd.rules.compiler import CompiledRule, RuleCompiler
from yuqingd.rules.model import (
    Append,
    ChainLevel,
    Deadlines,
    Entity,
    LexiconExtension,
    Rule,
    RuleFile,
    RuleTest,
    Topic,
)
from yuqingd.time.calendar import Calendar, KeyDateSpec

Loc = tuple


@dataclass(frozen=True)
class TopicDef:
    name: str
    keywords: tuple[str, ...]
    severity: str


@dataclass(frozen=True)
class RuleSet:
    """Everything the rule files declare, merged, with lists expanded and rules compiled."""

    rules: tuple[CompiledRule, ...]  # enabled rules, overrides applied, in file order
    chains: dict[str, tuple[ChainLevel, ...]]
    entities: tuple[Entity, ...]  # aliases expanded
    topics: dict[str, TopicDef]
    exclude: tuple[str, ...]
    negative_words: tuple[str, ...]
    positive_words: tuple[str, ...]
    calendar: Calendar
    key_dates: tuple[str, ...]
    # list key → author names as written (or their salted hashes, see pipeline.privacy)
    author_lists: dict[str, frozenset[str]]
    tests: tuple[tuple[Path, RuleTest], ...]
    files: tuple[Path, ...]
    all_rule_ids: frozenset[str] = field(default_factory=frozenset)  # disabled ones too
    deadlines: dict[str, Deadlines] = field(default_factory=dict)  # per severity
    lexicons: tuple[LexiconExtension, ...] = ()  # rule packs' additions, in file order

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.rule.id: r for r in self.rules})

    def rule(self, rule_id: str) -> CompiledRule | None:
        return self._by_id.get(rule_id)  # on the per-item path: a dict, not a scan


@dataclass(frozen=True)
class Names:
    """What the config defines, for cross-checks (None: not checked, e.g. in unit tests)."""

    roles: frozenset[str] = frozenset()
    notifiers: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    source_kinds: frozenset[str] | None = None
    timezone: str = "Asia/Shanghai"


def load_rules(paths: Iterable[Path], roles: Iterable[str], names: Names | None = None) -> RuleSet:
    """Load, merge, cross-check and compile rule files."""
    names = names or Names()
    names = Names(frozenset(roles), names.notifiers, names.sources, names.source_kinds,
                  names.timezone)
    errors: list[LocatedError] = []
    files = [f for f in (_read(Path(p), names.timezone, errors) for p in paths) if f]
    ruleset = _Merger(files, names, errors).merge()
    if errors:
        raise ConfigError(errors)
    return ruleset


# reading ------------------------------------------------------------------------------------


@dataclass
class _File:
    doc: LocatedDocument
    sections: dict[str, Any]  # section → validated value (rules: list of (index, Rule))


_LIST_SECTIONS = {"rules": Rule, "tests": RuleTest, "calendar": KeyDateSpec}


def _read(path: Path, timezone: str, errors: list) -> _File | None:
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        errors.extend(exc.errors)
        return None
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        errors.append(doc.at((), msg("规则文件顶层应为映射", "a rule file must be a mapping")))
        return None
    context = {"timezone": timezone}
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key in _LIST_SECTIONS and isinstance(value, list):
            model = _LIST_SECTIONS[key]
            valid = []
            for i, entry in enumerate(value):  # one bad rule does not hide the others
                checked = validate(model, entry, doc, errors, (key, i), context=context)
                if checked is not None:
                    valid.append((i, checked))
            sections[key] = valid
            continue
        parsed = validate(RuleFile, {key: value}, doc, errors, context=context)
        if parsed is not None:
            sections[key] = getattr(parsed, key)
    return _File(doc, sections)


# merging ------------------------------------------------------------------------------------


class _Merger:
    def __init__(self, files: list[_File], names: Names, errors: list):
        self.files = files
        self.names = names
        self.errors = errors
        self._first: dict[tuple[str, str], str] = {}  # (what, name) → "file:line"
        self.lists: dict[str, tuple[list[str], _File, Loc]] = {}

    def error(self, f: _File, loc: Loc, zh: str, en: str, *, key: bool = False) -> None:
        self.errors.append(f.doc.at(loc, msg(zh, en), key=key))

    def first_seen(self, what: str, name: str, f: _File, loc: Loc, *, key: bool = False) -> None:
        """Remember where ``name`` (a rule id, a list, …) was first defined."""
        at = f.doc.at(loc, "", key=key)
        self._first.setdefault((what, name), f"{at.file}:{at.line}")

    def duplicate(self, what: str, name: str, f: _File, loc: Loc, zh: str, en: str, *,
                  key: bool = False) -> None:
        """A second definition of ``name``: the error names the line of the first."""
        first = self._first.get((what, name), "?")
        self.error(f, loc, f"{zh}（首次定义于 {first}）", f"{en} (first defined at {first})",
                   key=key)

    def merge(self) -> RuleSet:
        self._merge_lists()
        topics = self._merge_topics()
        entities = self._merge_entities()
        words = {k: tuple(self._concat(k)) for k in ("exclude", "negative_words",
                                                      "positive_words")}
        calendar_specs, key_dates = self._merge_calendar()
        chains = self._merge_chains()
        deadlines = self._merge_deadlines()
        rules = self._merge_rules()
        # Names a file defines but got wrong are still "defined": their own error is enough.
        written = {k: set() for k in ("chains", "topics")}
        for f in self.files:
            for section, found in written.items():
                raw = f.doc.data.get(section) if isinstance(f.doc.data, dict) else None
                if section == "topics":
                    watch = f.doc.data.get("watchlist") if isinstance(f.doc.data, dict) else None
                    raw = watch.get("topics") if isinstance(watch, dict) else None
                if isinstance(raw, dict):
                    found.update(str(k) for k in raw)
        compiler = RuleCompiler(
            entities={e.name for e in entities}, topics=set(topics) | written["topics"],
            key_dates=set(key_dates), chains=set(chains) | written["chains"], names=self.names,
            expand=self._expand, error=self.error, macros=self._merge_macros())
        compiled = []
        for f, i, rule in rules.values():
            if rule.enabled:
                cr = compiler.compile(rule, f, ("rules", i))
                if cr is not None:
                    compiled.append(cr)
        self._check_chain_roles()
        tests = tuple((f.doc.path, t) for f in self.files for _, t in f.sections.get("tests", []))
        return RuleSet(
            rules=tuple(compiled), chains=chains, entities=tuple(entities), topics=topics,
            exclude=words["exclude"], negative_words=words["negative_words"],
            positive_words=words["positive_words"], calendar=Calendar(calendar_specs),
            key_dates=tuple(key_dates),
            author_lists={k: frozenset(v) for k, v in compiler.author_lists.items()},
            tests=tests, files=tuple(f.doc.path for f in self.files),
            all_rule_ids=frozenset(rules), deadlines=deadlines,
            lexicons=tuple(watch.lexicon for f in self.files
                           if (watch := f.sections.get("watchlist")) and watch.lexicon),
        )

    # lists and expansion

    def _merge_lists(self) -> None:
        appends = []
        for f in self.files:
            for name, value in f.sections.get("lists", {}).items():
                if isinstance(value, Append):
                    appends.append((f, name, value))
                elif name in self.lists:
                    self.duplicate("list", name, f, ("lists", name), f"列表 '{name}' 重复定义",
                                   f"list '{name}' defined twice", key=True)
                else:
                    self.lists[name] = (list(value), f, ("lists", name))
                    self.first_seen("list", name, f, ("lists", name), key=True)
        for f, name, value in appends:
            if name not in self.lists:
                self.error(f, ("lists", name), f"要追加的列表 '{name}' 未定义"
                           + did_you_mean(name, self.lists), f"no list '{name}' to append to",
                           key=True)
            else:
                self.lists[name][0].extend(value.append)

    def _expand(self, words: Sequence[str], f: _File, loc: Loc, _seen=()) -> list[str]:
        """Words with every "$list" replaced by that list's (expanded) words."""
        out: list[str] = []
        for i, word in enumerate(words):
            if not word.startswith("$"):
                out.append(word)
                continue
            name = word[1:]
            if name in _seen:
                self.error(f, (*loc, i), f"列表 '{name}' 循环引用自身",
                           f"list '{name}' refers to itself")
            elif name not in self.lists:
                self.error(f, (*loc, i), f"未定义的列表 '{name}'" + did_you_mean(name, self.lists),
                           f"undefined list '{name}'")
            else:
                words_of, lf, lloc = self.lists[name]
                out.extend(self._expand(words_of, lf, lloc, (*_seen, name)))
        return list(dict.fromkeys(out))

    def _concat(self, section: str) -> list[str]:
        out: list[str] = []
        for f in self.files:
            watch = f.sections.get("watchlist")
            if watch is not None:
                out += self._expand(getattr(watch, section), f, ("watchlist", section))
        return list(dict.fromkeys(out))

    # watch list

    def _merge_topics(self) -> dict[str, TopicDef]:
        defined: dict[str, tuple[list[str], str]] = {}
        appends = []
        for f in self.files:
            watch = f.sections.get("watchlist")
            for name, value in (watch.topics.items() if watch else ()):
                loc = ("watchlist", "topics", name)
                if isinstance(value, Append):
                    appends.append((f, name, value, loc))
                    continue
                if name in defined:
                    self.duplicate("topic", name, f, loc, f"主题 '{name}' 重复定义",
                                   f"topic '{name}' defined twice", key=True)
                    continue
                self.first_seen("topic", name, f, loc, key=True)
                if isinstance(value, Topic):
                    defined[name] = (self._expand(value.keywords, f, (*loc, "keywords")),
                                     value.severity)
                else:
                    defined[name] = (self._expand(value, f, loc), "一般")
        for f, name, value, loc in appends:
            if name not in defined:
                self.error(f, loc, f"要追加的主题 '{name}' 未定义" + did_you_mean(name, defined),
                           f"no topic '{name}' to append to", key=True)
            else:
                defined[name][0].extend(self._expand(value.append, f, (*loc, "append")))
        return {n: TopicDef(n, tuple(dict.fromkeys(k)), s) for n, (k, s) in defined.items()}

    def _merge_entities(self) -> list[Entity]:
        entities: dict[str, Entity] = {}
        for f in self.files:
            watch = f.sections.get("watchlist")
            for i, entity in enumerate(watch.entities if watch else ()):
                loc = ("watchlist", "entities", i)
                if entity.name in entities:
                    self.duplicate("entity", entity.name, f, (*loc, "name"),
                                   f"监测对象 '{entity.name}' 重复",
                                   f"duplicate entity '{entity.name}'")
                    continue
                self.first_seen("entity", entity.name, f, (*loc, "name"))
                aliases = self._expand(entity.aliases, f, (*loc, "aliases"))
                entities[entity.name] = Entity(name=entity.name, aliases=aliases,
                                                not_=self._expand(entity.not_, f, (*loc, "not")),
                                                digits=entity.digits)
        return list(entities.values())

    def _merge_calendar(self) -> tuple[list[KeyDateSpec], list[str]]:
        specs, seen = [], {}
        for f in self.files:
            for i, spec in f.sections.get("calendar", []):
                if spec.name in seen:
                    self.duplicate("key date", spec.name, f, ("calendar", i, "name"),
                                   f"重点日期 '{spec.name}' 重复定义",
                                   f"key date '{spec.name}' defined twice")
                    continue
                self.first_seen("key date", spec.name, f, ("calendar", i, "name"))
                seen[spec.name] = spec
                specs.append(spec)
        return specs, list(seen)

    def _merge_macros(self) -> dict[str, tuple[Any, _File, Loc]]:
        macros: dict[str, tuple[Any, _File, Loc]] = {}
        for f in self.files:
            for name, match in f.sections.get("macros", {}).items():
                if name in macros:
                    self.duplicate("macro", name, f, ("macros", name), f"条件宏 '{name}' 重复定义",
                                   f"macro '{name}' defined twice", key=True)
                    continue
                self.first_seen("macro", name, f, ("macros", name), key=True)
                macros[name] = (match, f, ("macros", name))
        return macros

    def _merge_chains(self) -> dict[str, tuple[ChainLevel, ...]]:
        chains: dict[str, tuple[ChainLevel, ...]] = {}
        for f in self.files:
            for name, levels in f.sections.get("chains", {}).items():
                if name in chains:
                    self.duplicate("chain", name, f, ("chains", name), f"升级链 '{name}' 重复定义",
                                   f"chain '{name}' defined twice", key=True)
                self.first_seen("chain", name, f, ("chains", name), key=True)
                chains[name] = tuple(levels)
        return chains

    def _merge_deadlines(self) -> dict[str, Deadlines]:
        deadlines: dict[str, Deadlines] = {}
        for f in self.files:
            for severity, spec in f.sections.get("deadlines", {}).items():
                if severity in deadlines:
                    self.duplicate("deadlines", severity, f, ("deadlines", severity),
                                   f"严重程度 '{severity}' 的时限重复定义",
                                   f"deadlines for '{severity}' defined twice", key=True)
                    continue
                self.first_seen("deadlines", severity, f, ("deadlines", severity), key=True)
                deadlines[severity] = spec
        return deadlines

    def _check_chain_roles(self) -> None:
        roles = self.names.roles
        for f in self.files:
            for name, levels in f.sections.get("chains", {}).items():
                for j, level in enumerate(levels):
                    if level.notify not in roles:
                        self.error(f, ("chains", name, j, "notify"),
                                   f"配置中未定义角色 '{level.notify}'"
                                   + did_you_mean(level.notify, roles),
                                   f"role '{level.notify}' is not defined in the config")

    # rules

    def _merge_rules(self) -> dict[str, tuple[_File, int, Rule]]:
        rules: dict[str, tuple[_File, int, Rule]] = {}
        for f in self.files:
            for i, rule in f.sections.get("rules", []):
                if rule.id in rules:
                    self.duplicate("rule", rule.id, f, ("rules", i, "id"),
                                   f"规则 id '{rule.id}' 重复，规则 id 是状态的键，必须唯一",
                                   f"duplicate rule id '{rule.id}'")
                    continue
                rules[rule.id] = (f, i, rule)
                self.first_seen("rule", rule.id, f, ("rules", i, "id"))
        for f in self.files:
            for rule_id, override in f.sections.get("overrides", {}).items():
                if rule_id not in rules:
                    self.error(f, ("overrides", rule_id), f"要覆盖的规则 '{rule_id}' 不存在"
                               + did_you_mean(rule_id, rules), f"no rule '{rule_id}' to override",
                               key=True)
                    continue
                rf, i, rule = rules[rule_id]
                changes = {k: getattr(override, k) for k in override.model_fields_set
                           if getattr(override, k) is not None}  # `x: null` changes nothing
                updated = rule.model_copy(update=changes)
                try:
                    updated._shape()  # an override cannot make a rule a file could not hold
                except ValueError as exc:
                    self.error(f, ("overrides", rule_id), str(exc), str(exc))
                    continue
                rules[rule_id] = (rf, i, updated)
        return rules
