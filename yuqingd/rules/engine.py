"""Rule matching behind one interface. This is the only module that imports durable-rules.

Both engines take ``(rule id, condition)`` pairs and answer, for one fact's features, which rules
hold. They must agree exactly (a conformance suite with generated rules checks it).

durable-rules is used in a constrained mode (see the project's durable-rules notes): a host with
no background threads (actions run inside the call that asserts), no engine timers, no engine
persistence, one session, at most ``RULES_PER_RULESET`` rules per ruleset (512+ hangs). Each fact
is asserted with a fresh id and retracted at once: facts, unlike events, fire every rule they
match, and only one fact is ever alive, so the engine's 32-bit id hashes cannot collide. Names
become small integers, which the engine compares exactly. Actions only record which rule fired;
time, windows and state belong to the daemon.

Where durable-rules does not import (Python 3.13+), the pure-Python engine is used.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from yuqingd.rules.conditions import (
    All,
    AtLeast,
    Condition,
    EntityIs,
    Features,
    Flag,
    Not,
    evaluate,
    walk,
)
from yuqingd.rules.conditions import (
    Any as AnyOf,
)

try:
    from durable import engine as durable_engine
except ImportError:  # pragma: no cover - exercised on Python 3.13+
    durable_engine = None

RULES_PER_RULESET = 400
ENGINES = ("durable", "python")


class Matcher(Protocol):
    name: str

    def match(self, features: Features) -> list[str]:
        """Ids of the rules whose condition holds, in the order the rules were given."""


def default_engine() -> str:
    return "durable" if durable_engine is not None else "python"


def make_matcher(rules: Sequence[tuple[str, Condition]], engine: str | None = None) -> Matcher:
    engine = engine or default_engine()
    if engine == "durable":
        return DurableMatcher(rules)
    return PythonMatcher(rules)


class PythonMatcher:
    name = "python"

    def __init__(self, rules: Iterable[tuple[str, Condition]]):
        self.rules = list(rules)

    def match(self, features: Features) -> list[str]:
        return [rule_id for rule_id, cond in self.rules if evaluate(cond, features)]


class _Symbols:
    """Names → small integers for the engine (flags become fields ``f<n>``)."""

    def __init__(self) -> None:
        self.entities: dict[str, int] = {}
        self.flags: dict[str, str] = {}

    def entity(self, name: str) -> int:
        return self.entities.setdefault(name, len(self.entities) + 1)

    def flag(self, name: str) -> str:
        return self.flags.setdefault(name, f"f{len(self.flags)}")


class DurableMatcher:
    name = "durable"

    def __init__(self, rules: Iterable[tuple[str, Condition]]):
        if durable_engine is None:
            raise RuntimeError("durable-rules cannot be imported on this Python")
        rules = list(rules)
        self._order = {rule_id: i for i, (rule_id, _) in enumerate(rules)}
        self._symbols = _Symbols()
        self._numbers: set[str] = set()
        self._fired: list[str] = []
        self._ids = itertools.count()
        self._host = _threadless_host()
        rulesets: dict[str, Any] = {}
        for start in range(0, len(rules), RULES_PER_RULESET):
            chunk = rules[start : start + RULES_PER_RULESET]
            rulesets[f"yuqingd{start // RULES_PER_RULESET}"] = {
                f"r{start + i}": {"all": [{"m": self._top(cond)}], "run": self._recorder(rid)}
                for i, (rid, cond) in enumerate(chunk)
            }
        self._rulesets = list(rulesets)
        if rulesets:
            self._host.set_rulesets(rulesets)

    def _recorder(self, rule_id: str):
        def run(c):  # one argument: durable-rules runs it synchronously
            self._fired.append(rule_id)

        return run

    def _top(self, cond: Condition) -> dict:
        # A positive test must come first: a rule that is only a negation (``$nex``) hangs the
        # engine, and empty groups are not accepted. ``entity`` is in every fact.
        for node in walk(cond):
            if isinstance(node, AtLeast):
                self._numbers.add(node.number)
        return {"$and": [{"$ex": {"entity": 1}}, self._compile(cond, negate=False)]}

    def _compile(self, cond: Condition, *, negate: bool) -> dict:
        """The condition (or its negation, pushed down to the leaves) as a durable expression."""
        if isinstance(cond, Flag):
            return {"$nex" if negate else "$ex": {self._symbols.flag(cond.name): 1}}
        if isinstance(cond, EntityIs):
            if cond.names is None:
                return {"entity": 0} if negate else {"$neq": {"entity": 0}}
            ids = sorted(self._symbols.entity(n) for n in cond.names)
            if negate:
                return {"$and": [{"$neq": {"entity": i}} for i in ids]}
            return {"$or": [{"entity": i} for i in ids]}
        if isinstance(cond, AtLeast):
            return {"$lt" if negate else "$gte": {cond.number: cond.value}}
        if isinstance(cond, Not):
            return self._compile(cond.part, negate=not negate)
        if isinstance(cond, All | AnyOf):
            conjunction = isinstance(cond, All) != negate
            if not cond.parts:  # empty All is true, empty Any is false
                return {"$ex": {"entity": 1}} if conjunction else {"$nex": {"entity": 1}}
            return {"$and" if conjunction else "$or":
                    [self._compile(p, negate=negate) for p in cond.parts]}
        raise TypeError(f"not a condition: {cond!r}")

    def _fact(self, features: Features) -> dict:
        fact: dict[str, Any] = {
            "entity": self._symbols.entities.get(features.entity, -1) if features.entity else 0
        }
        for flag in features.flags:
            field = self._symbols.flags.get(flag)
            if field is not None:  # flags no rule tests are not sent
                fact[field] = 1
        for number in self._numbers:
            fact[number] = features.numbers.get(number, 0)
        return fact

    def match(self, features: Features) -> list[str]:
        self._fired.clear()
        fact = self._fact(features)
        for name in self._rulesets:
            fact_id = f"f{next(self._ids)}"
            try:
                self._host.assert_fact(name, {**fact, "id": fact_id})
            except durable_engine.MessageNotHandledException:
                continue
            self._host.retract_fact(name, {"id": fact_id})
        return sorted(set(self._fired), key=self._order.__getitem__)


def _threadless_host():
    class ThreadlessHost(durable_engine.Host):
        def _run(self) -> None:  # no threading.Timer dispatch chains
            pass

    return ThreadlessHost()
