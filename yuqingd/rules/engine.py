"""Rule matching behind one interface. This is the only module that imports durable-rules.

Both engines take ``(rule id, condition)`` pairs and answer, for one fact's features, which rules
hold. They must agree exactly (``tests/test_engine_conformance.py`` checks it on generated rules).

durable-rules is used in a constrained mode (see the project's durable-rules notes): a host with
no background threads (actions run inside the call that asserts), no engine timers, no engine
persistence, one session. Each fact is asserted with a fresh id and retracted at once: facts,
unlike events, fire every rule they match, and only one fact is ever alive, so the engine's 32-bit
id hashes cannot collide. Names become small integers, which the engine compares exactly. Actions
only record which rule fired; time, windows and state belong to the daemon.

durable-rules 2.0.28 has fixed-size tables that it does not always check: past some of them it
loops forever or fails on a later fact. The compiler keeps every ruleset inside them, measured
on a model of the engine's network (see ``_Network``); the limits are listed at ``_LIMITS``.

Where durable-rules does not import (e.g. an unpatched 2.0.28 on Python 3.13: set-up installs a
patched build, see packaging/durable-rules/), the pure-Python engine is used.
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
)
from yuqingd.rules.conditions import (
    Any as AnyOf,
)

try:
    from durable import engine as durable_engine
except ImportError:  # pragma: no cover - only without the patched build on 3.13
    durable_engine = None

RULES_PER_RULESET = 400
ENGINES = ("durable", "python")

# durable-rules 2.0.28's tables (src/rules/rete.h, rules.h, events.c, state.h) and how far we go.
# Every ruleset the compiler builds stays at or under the right-hand figure.
_LIMITS = {
    # MAX_SEQUENCE_EXPRESSIONS 32: each $and/$or takes two slots of its rule (error 113).
    "groups": 15,
    # NEXT_BUCKET_LENGTH 512: the tests under one node share a 512-slot table probed without a
    # bound; when it is full, building or matching loops forever (the "512 rules hang").
    "keyed": 448,
    # NEXT_LIST_LENGTH 128: $nex tests and $or joins under one node (error 107).
    "listed": 112,
    # BETA_LIST_LENGTH 256: rules ending at one node (error 108).
    "rules_at_node": 224,
    # MAX_STACK_SIZE 64: matching walks the network depth first and pushes every child whose
    # test holds; more than 64 pending fails that fact (error 303). Bounded for the worst fact.
    "stack": 56,
    # MAX_OBJECT_PROPERTIES 255 in one fact, counting id and sid (error 302).
    "fields": 224,
}
_MAX_PIECES = 256  # engine rules one condition may become
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 16777619


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


# Engine expressions, before they become durable-rules JSON: ("leaf", field, op, value),
# ("and", parts), ("or", parts), or a constant. Negations are pushed down to the leaves, so
# every $and/$or is in a positive position and an $or can be split across engine rules.
Expr = tuple
TRUE: Expr = ("const", True)
FALSE: Expr = ("const", False)
# Every engine rule starts with this test. A rule whose first test can hold without it (a bare
# $nex, or an $or with a $nex branch) also matches the session's state fact, which the engine
# re-asserts after every action: the rule fires again for ever inside that call.
GUARD: Expr = ("leaf", "entity", "ex", 1)


def _fnv1a(name: str) -> int:
    h = _FNV_OFFSET
    for byte in name.encode():
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


class _Symbols:
    """Names → small integers (entities) and field names (flags ``f<n>``, numbers ``n<n>``).

    The engine knows a field only by its 32-bit FNV hash, so a field whose hash is taken is
    skipped rather than confused with another."""

    def __init__(self) -> None:
        self.entities: dict[str, int] = {}
        self.fields: dict[tuple[str, str], str] = {}
        self._hashes = {_fnv1a(n) for n in ("id", "sid", "entity", "$s", "$forward")}
        self._next = itertools.count()

    def entity(self, name: str) -> int:
        return self.entities.setdefault(name, len(self.entities) + 1)

    def field(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self.fields:
            while True:
                field = f"{kind}{next(self._next)}"
                if _fnv1a(field) not in self._hashes:
                    break
            self._hashes.add(_fnv1a(field))
            self.fields[key] = field
        return self.fields[key]


def _group(kind: str, parts: Iterable[Expr]) -> Expr:
    """An $and/$or, flattened, without constants or repeats, in a canonical order."""
    unit, zero = (TRUE, FALSE) if kind == "and" else (FALSE, TRUE)
    out: dict[Expr, None] = {}
    for part in parts:
        if part == zero:
            return zero
        if part != unit:
            out.update(dict.fromkeys(part[1] if part[0] == kind else (part,)))
    if not out:
        return unit
    if len(out) == 1:
        return next(iter(out))
    return (kind, tuple(sorted(out, key=_rank)))


def _rank(e: Expr) -> tuple[int, str]:
    # The guard first; then entity tests (one entity per fact: its tests exclude each other, so
    # rules branching on entity share the network and keep its walk narrow); groups last.
    if e == GUARD:
        return (0, "")
    if e[0] == "leaf":
        return (1 if e[1] == "entity" else 2, repr(e))
    entity_only = all(p[0] == "leaf" and p[1] == "entity" for p in e[1])
    return (1 if entity_only else 3, repr(e))


def _render(e: Expr) -> dict:
    if e[0] == "leaf":
        _, field, op, value = e
        return {field: value} if op == "eq" else {f"${op}": {field: value}}
    return {"$and" if e[0] == "and" else "$or": [_render(p) for p in e[1]]}


def _leaves(e: Expr) -> Iterable[Expr]:
    if e[0] == "leaf":
        yield e
    elif e[0] in ("and", "or"):
        for p in e[1]:
            yield from _leaves(p)


class _Node:
    __slots__ = ("field", "op", "tests", "children", "keyed", "listed", "rules", "parents", "q")

    def __init__(self, field: str | None, op: str) -> None:
        self.field, self.op = field, op
        self.tests: dict[Expr, _Node] = {}  # shared children, as the engine's findAlpha reuses
        self.children: list[_Node] = []  # what the walk may push (a join linked twice: twice)
        self.keyed = 0
        self.listed = 0
        self.rules = 0
        self.parents: list[_Node] = []
        self.q: int | None = 0


class _Network:
    """A model of the alpha network durable-rules builds for one ruleset (rete.c ``createAlpha``):
    tests are shared between rules by (parent, field, operator, value); an $or hangs each branch
    from the node before it and joins them in a new node. It answers whether a ruleset stays
    within ``_LIMITS``."""

    def __init__(self) -> None:
        self.root = _Node(None, "root")
        self.fields: set[str] = set()
        self.rules = 0
        self._groups = 0  # in the rule being added
        self.ok = True

    def add(self, e: Expr) -> bool:
        """Add one engine rule; False once the ruleset is over a limit (then discard it)."""
        self._groups = 0
        self.rules += 1
        end = self._build(e, self.root)
        end.rules += 1
        self.fields.update(leaf[1] for leaf in _leaves(e))
        self.ok = (self.ok and self._groups <= _LIMITS["groups"]
                   and end.rules <= _LIMITS["rules_at_node"]
                   and len(self.fields) <= _LIMITS["fields"] and self.rules <= RULES_PER_RULESET
                   and self._stack(self.root) <= _LIMITS["stack"])
        return self.ok

    def _link(self, parent: _Node, child: _Node) -> None:
        parent.children.append(child)
        child.parents.append(parent)
        if child.op in ("nex", "join"):
            parent.listed += 1
            self.ok = self.ok and parent.listed <= _LIMITS["listed"]
        else:
            parent.keyed += 1
            self.ok = self.ok and parent.keyed <= _LIMITS["keyed"]
        stale = [parent]
        while stale:  # the walk's depth changes above the new edge only
            node = stale.pop()
            if node.q is not None:
                node.q = None
                stale.extend(node.parents)

    def _build(self, e: Expr, parent: _Node) -> _Node:
        if e[0] == "leaf":
            node = parent.tests.get(e)
            if node is None:
                node = parent.tests[e] = _Node(e[1], e[2])
                self._link(parent, node)
            return node
        self._groups += 1
        if e[0] == "and":
            for part in e[1]:
                parent = self._build(part, parent)
            return parent
        join = _Node(None, "join")
        for branch in e[1]:
            self._link(self._build(branch, parent), join)
        return join

    def _stack(self, node: _Node) -> int:
        """Most entries the engine's walk can hold below ``node``, when every test that can
        hold does (equality tests on one field exclude each other)."""
        if node.q is None:
            pushed, deepest, equal = 0, 0, set()
            for child in node.children:
                if child.op != "eq" or child.field not in equal:
                    pushed += 1
                    if child.op == "eq":
                        equal.add(child.field)
                deepest = max(deepest, self._stack(child))
            node.q = max(pushed, pushed - 1 + deepest) if pushed else 0
        return node.q


def _groups(e: Expr) -> int:
    return 0 if e[0] == "leaf" else 1 + sum(_groups(p) for p in e[1])


def _split(e: Expr) -> list[Expr]:
    """One engine rule that no ruleset can hold, as several that together match the same facts.

    An $or in a positive position splits in two: E[a ∨ b] = E[a] ∨ E[b]. Too many groups: split
    the $or holding the most groups; too wide a walk: split the widest $or."""
    out, todo = [], [e]
    while todo:
        e = todo.pop()
        if _Network().add(e):
            out.append(e)
            continue
        ors = list(_ors(e))
        if not ors or len(out) + len(todo) > _MAX_PIECES:
            raise ValueError("condition too large for durable-rules: use the python engine")
        if _groups(e) > _LIMITS["groups"]:
            path, node = max(ors, key=lambda p: (_groups(p[1]), -len(p[1][1])))
        else:
            path, node = max(ors, key=lambda p: len(p[1][1]))
        half = len(node[1]) // 2
        for branches in (node[1][:half], node[1][half:]):
            todo.append(_replace(e, path, _group("or", branches)))
    return out


def _ors(e: Expr, path: tuple[int, ...] = ()) -> Iterable[tuple[tuple[int, ...], Expr]]:
    if e[0] in ("and", "or"):
        if e[0] == "or":
            yield path, e
        for i, part in enumerate(e[1]):
            yield from _ors(part, (*path, i))


def _replace(e: Expr, path: tuple[int, ...], new: Expr) -> Expr:
    if not path:
        return new
    parts = list(e[1])
    parts[path[0]] = _replace(parts[path[0]], path[1:], new)
    return _group(e[0], parts)


class DurableMatcher:
    name = "durable"

    def __init__(self, rules: Iterable[tuple[str, Condition]]):
        if durable_engine is None:
            raise RuntimeError("durable-rules cannot be imported on this Python")
        rules = list(rules)
        self._order = {rule_id: i for i, (rule_id, _) in enumerate(rules)}
        self._symbols = _Symbols()
        self._fired: list[str] = []
        self._ids = itertools.count()
        self._host = _threadless_host()
        # One engine rule per distinct expression; it records every rule id that compiled to it.
        pieces: dict[Expr, list[str]] = {}
        for rule_id, cond in rules:
            expr = _group("and", (GUARD, self._compile(cond, negate=False)))
            if expr != FALSE:
                for piece in _split(expr):
                    pieces.setdefault(piece, []).append(rule_id)
        chunks: list[list[Expr]] = []
        network = _Network()
        for piece in sorted(pieces, key=repr):  # neighbours share tests
            if not chunks or not network.add(piece):
                network = _Network()
                network.add(piece)
                chunks.append([])
            chunks[-1].append(piece)
        rulesets: dict[str, Any] = {}
        self._plans: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = []
        by_field = {field: key for key, field in self._symbols.fields.items()}
        for n, chunk in enumerate(chunks):
            name = f"yuqingd{n}"
            rulesets[name] = {
                f"r{i}": {"all": [{"m": _render(piece)}], "run": self._recorder(pieces[piece])}
                for i, piece in enumerate(chunk)
            }
            fields = sorted({leaf[1] for piece in chunk for leaf in _leaves(piece)} - {"entity"})
            flags = {by_field[f][1]: f for f in fields if by_field[f][0] == "f"}
            numbers = [(by_field[f][1], f) for f in fields if by_field[f][0] == "n"]
            self._plans.append((name, flags, numbers))
        self._rulesets = list(rulesets)
        if rulesets:
            self._host.set_rulesets(rulesets)

    def _recorder(self, rule_ids: list[str]):
        def run(c):  # one argument: durable-rules runs it synchronously
            self._fired.extend(rule_ids)

        return run

    def _compile(self, cond: Condition, *, negate: bool) -> Expr:
        """The condition (or its negation, pushed down to the leaves) as an engine expression."""
        if isinstance(cond, Flag):
            return ("leaf", self._symbols.field("f", cond.name), "nex" if negate else "ex", 1)
        if isinstance(cond, EntityIs):
            # entity is 0 when the item names none, -1 for a name no rule mentions.
            if cond.names is None:
                return ("leaf", "entity", "eq" if negate else "neq", 0)
            ids = sorted(self._symbols.entity(n) for n in cond.names)
            op = "neq" if negate else "eq"
            return _group("and" if negate else "or", (("leaf", "entity", op, i) for i in ids))
        if isinstance(cond, AtLeast):
            return ("leaf", self._symbols.field("n", cond.number), "lt" if negate else "gte",
                    cond.value)
        if isinstance(cond, Not):
            return self._compile(cond.part, negate=not negate)
        if isinstance(cond, All | AnyOf):
            conjunction = isinstance(cond, All) != negate
            return _group("and" if conjunction else "or",
                          (self._compile(p, negate=negate) for p in cond.parts))
        raise TypeError(f"not a condition: {cond!r}")

    def facts(self, features: Features) -> list[tuple[str, dict]]:
        """The engine facts for these features: one per ruleset, with the fields it tests."""
        entity = self._symbols.entities.get(features.entity, -1) if features.entity else 0
        out = []
        for name, flags, numbers in self._plans:
            fact: dict[str, Any] = {"id": f"x{next(self._ids)}", "entity": entity}
            for flag in features.flags:
                field = flags.get(flag)
                if field is not None:
                    fact[field] = 1
            for number, field in numbers:
                fact[field] = features.numbers.get(number, 0)
            out.append((name, fact))
        return out

    def match(self, features: Features) -> list[str]:
        self._fired.clear()
        for name, fact in self.facts(features):
            try:
                self._host.assert_fact(name, fact)
            except durable_engine.MessageNotHandledException:
                continue
            self._host.retract_fact(name, {"id": fact["id"]})
        # A fact that satisfies a rule in n ways (n true branches of an $or) fires it n times.
        return sorted(set(self._fired), key=self._order.__getitem__)


def _threadless_host():
    class ThreadlessHost(durable_engine.Host):
        def _run(self) -> None:  # no threading.Timer dispatch chains
            pass

    return ThreadlessHost()
