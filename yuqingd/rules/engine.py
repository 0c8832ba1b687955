"""Rule matching behind one interface; the only module that imports durable-rules.

durable-rules is used in a constrained mode (see the project's durable-rules notes): a host with
no background threads (every action runs inside the call that asserts), no engine timers, no
engine persistence, one session, at most ``RULES_PER_RULESET`` rules per ruleset (512+ hangs).
Each match is asserted as a *fact* with a fresh id and retracted straight away: facts, unlike
events, fire every rule they match, and only one fact is ever alive, so the engine's 32-bit id
hashes cannot collide. Actions only record which rule fired. Time, windows and state belong to
the daemon.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Protocol

from durable import engine as durable_engine

from yuqingd.rules.model import Rule

RULES_PER_RULESET = 400


class Matcher(Protocol):
    def match(self, fact: dict[str, Any]) -> list[str]:
        """Ids of the rules whose match conditions hold for ``fact``, in rule order."""


def compile_match(rule: Rule) -> dict[str, Any]:
    """The rule's ``match:`` as a durable-rules expression over one fact."""
    terms: list[dict[str, Any]] = [{"$ex": {"entity": 1}}]
    if rule.match.entity != "any":
        terms.append({"entity": rule.match.entity})
    if rule.match.sentiment is not None:
        terms.append({"sentiment": rule.match.sentiment})
    return {"$and": terms}


class _ThreadlessHost(durable_engine.Host):
    def _run(self) -> None:  # no threading.Timer dispatch chains: nothing runs behind our back
        pass


class DurableMatcher:
    """A :class:`Matcher` compiled to durable-rules rulesets."""

    def __init__(self, rules: Iterable[Rule]):
        rules = list(rules)
        self._order = {rule.id: i for i, rule in enumerate(rules)}
        self._fired: list[str] = []
        self._ids = itertools.count()
        self._host = _ThreadlessHost()
        rulesets: dict[str, Any] = {}
        for start in range(0, len(rules), RULES_PER_RULESET):
            chunk = rules[start : start + RULES_PER_RULESET]
            rulesets[f"yuqingd{start // RULES_PER_RULESET}"] = {
                f"r{start + i}": {
                    "all": [{"m": compile_match(rule)}],
                    "run": self._recorder(rule.id),
                }
                for i, rule in enumerate(chunk)
            }
        self._rulesets = list(rulesets)
        if rulesets:
            self._host.set_rulesets(rulesets)

    def _recorder(self, rule_id: str):
        def run(c):  # one argument: durable-rules runs it synchronously
            self._fired.append(rule_id)

        return run

    def match(self, fact: dict[str, Any]) -> list[str]:
        self._fired.clear()
        for name in self._rulesets:
            fact_id = f"f{next(self._ids)}"
            try:
                self._host.assert_fact(name, {**fact, "id": fact_id})
            except durable_engine.MessageNotHandledException:
                continue
            self._host.retract_fact(name, {"id": fact_id})
        return sorted(set(self._fired), key=self._order.__getitem__)
