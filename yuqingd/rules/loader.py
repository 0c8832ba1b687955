"""Rule files → one validated, merged :class:`RuleSet` (or every error, located)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydantic

from yuqingd.located import (
    ConfigError,
    LocatedDocument,
    LocatedError,
    did_you_mean,
    load_yaml,
    msg,
    validation_errors,
)
from yuqingd.rules.model import ChainLevel, Entity, Rule, RuleFile


@dataclass(frozen=True)
class RuleSet:
    """Everything the rule files declare, merged across files."""

    rules: tuple[Rule, ...]
    chains: dict[str, tuple[ChainLevel, ...]]
    entities: tuple[Entity, ...]
    negative_words: tuple[str, ...]
    positive_words: tuple[str, ...]
    files: tuple[Path, ...]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def load_rules(paths: Iterable[Path], roles: Iterable[str]) -> RuleSet:
    """Load and cross-check rule files; ``roles`` are the role names the config defines."""
    errors: list[LocatedError] = []
    parsed: list[tuple[LocatedDocument, RuleFile]] = []
    for path in paths:
        try:
            doc = load_yaml(path)
        except ConfigError as exc:
            errors.extend(exc.errors)
            continue
        data = doc.data if doc.data is not None else {}
        if not isinstance(data, dict):
            errors.append(doc.at((), msg("规则文件顶层应为映射", "a rule file must be a mapping")))
            continue
        try:
            parsed.append((doc, RuleFile.model_validate(data)))
        except pydantic.ValidationError as exc:
            errors.extend(validation_errors(exc, doc, RuleFile))
    ruleset = _merge(parsed, errors)
    _cross_check(parsed, ruleset, set(roles), errors)
    if errors:
        raise ConfigError(errors)
    return ruleset


def _merge(parsed: list[tuple[LocatedDocument, RuleFile]], errors: list) -> RuleSet:
    rules: dict[str, Rule] = {}
    chains: dict[str, tuple[ChainLevel, ...]] = {}
    entities: dict[str, Entity] = {}
    negative: list[str] = []
    positive: list[str] = []
    for doc, rf in parsed:
        for i, rule in enumerate(rf.rules):
            if rule.id in rules:
                errors.append(
                    doc.at(
                        ("rules", i, "id"),
                        msg(
                            f"规则 id '{rule.id}' 重复（规则 id 是状态的键，必须唯一）",
                            f"duplicate rule id '{rule.id}' "
                            "(rule ids key state and must be unique)",
                        ),
                    )
                )
            rules[rule.id] = rule
        for name, levels in rf.chains.items():
            if name in chains:
                errors.append(
                    doc.at(
                        ("chains", name),
                        msg(f"升级链 '{name}' 重复定义", f"chain '{name}' defined twice"),
                        key=True,
                    )
                )
            chains[name] = tuple(levels)
        for i, entity in enumerate(rf.watchlist.entities):
            if entity.name in entities:
                errors.append(
                    doc.at(
                        ("watchlist", "entities", i, "name"),
                        msg(f"监测对象 '{entity.name}' 重复", f"duplicate entity '{entity.name}'"),
                    )
                )
            entities[entity.name] = entity
        negative += rf.watchlist.negative_words
        positive += rf.watchlist.positive_words
    return RuleSet(
        rules=tuple(rules.values()),
        chains=chains,
        entities=tuple(entities.values()),
        negative_words=tuple(dict.fromkeys(negative)),
        positive_words=tuple(dict.fromkeys(positive)),
        files=tuple(doc.path for doc, _ in parsed),
    )


def _cross_check(parsed, ruleset: RuleSet, roles: set[str], errors: list) -> None:
    entity_names = {e.name for e in ruleset.entities}
    for doc, rf in parsed:
        for i, rule in enumerate(rf.rules):
            chain = rule.then.incident.chain
            if chain not in ruleset.chains:
                errors.append(
                    doc.at(
                        ("rules", i, "then", "incident", "chain"),
                        msg(f"未定义的升级链 '{chain}'", f"undefined chain '{chain}'")
                        + did_you_mean(chain, ruleset.chains),
                    )
                )
            entity = rule.match.entity
            if entity != "any" and entity not in entity_names:
                errors.append(
                    doc.at(
                        ("rules", i, "match", "entity"),
                        msg(
                            f"监测名单中没有 '{entity}'（或写 any）",
                            f"'{entity}' is not in the watch list (or write any)",
                        )
                        + did_you_mean(entity, entity_names),
                    )
                )
        for name, levels in rf.chains.items():
            for j, level in enumerate(levels):
                if level.notify not in roles:
                    errors.append(
                        doc.at(
                            ("chains", name, j, "notify"),
                            msg(
                                f"配置中未定义角色 '{level.notify}'",
                                f"role '{level.notify}' is not defined in the config",
                            )
                            + did_you_mean(level.notify, roles),
                        )
                    )
