"""The durable-rules matcher in its constrained mode."""

from __future__ import annotations

import threading

from yuqingd.rules.engine import RULES_PER_RULESET, DurableMatcher
from yuqingd.rules.model import Rule


def rule(rule_id: str, entity: str = "any", sentiment: str | None = None) -> Rule:
    return Rule.model_validate({
        "id": rule_id, "title": rule_id,
        "match": {"entity": entity, **({"sentiment": sentiment} if sentiment else {})},
        "threshold": {"count": 1, "within": "1h"},
        "then": {"incident": {"severity": "一般", "chain": "c"}},
    })


def test_matcher_fires_every_rule_whose_conditions_hold():
    """One fact fires all matching rules (not just the first), in rule order."""
    matcher = DurableMatcher([
        rule("any-negative", sentiment="negative"),
        rule("school-any", entity="六处学校"),
        rule("school-positive", entity="六处学校", sentiment="positive"),
        rule("other-school", entity="城关第二中学"),
    ])
    assert matcher.match({"entity": "六处学校", "sentiment": "negative"}) == [
        "any-negative", "school-any"]
    assert matcher.match({"entity": "六处学校", "sentiment": "positive"}) == [
        "school-any", "school-positive"]
    assert matcher.match({"entity": "县教育局", "sentiment": "neutral"}) == []


def test_matcher_keeps_no_state_between_items():
    """Facts are retracted after matching: the same fact matches the same way every time."""
    matcher = DurableMatcher([rule("r", sentiment="negative")])
    results = [matcher.match({"entity": "六处学校", "sentiment": "negative"}) for _ in range(2000)]
    assert results == [["r"]] * 2000
    assert all(matcher._host.get_facts(name) == [] for name in matcher._rulesets)


def test_matcher_splits_large_rule_sets_below_the_engine_limit():
    """1,000 rules (durable-rules hangs at 512 in one ruleset) are split and all still match."""
    rules = [rule(f"r{i:04d}", entity=f"学校{i}") for i in range(1000)]
    matcher = DurableMatcher(rules)
    assert len(matcher._rulesets) == -(-1000 // RULES_PER_RULESET)
    assert matcher.match({"entity": "学校999", "sentiment": "neutral"}) == ["r0999"]
    assert matcher.match({"entity": "学校0", "sentiment": "neutral"}) == ["r0000"]


def test_matcher_starts_no_background_threads():
    """No engine timer threads: everything runs inside match() on the caller's thread."""
    before = threading.active_count()
    matcher = DurableMatcher([rule("r")])
    matcher.match({"entity": "x", "sentiment": "neutral"})
    assert threading.active_count() == before
