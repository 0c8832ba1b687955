"""Both rule engines agree exactly: durable-rules (compiled) and pure Python (the reference).

Generated condition trees and features check the compiler; fixed shapes pin the places where
durable-rules 2.0.28 itself breaks (a hang, an engine error) and the compiler must avoid them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqingd.rules.conditions import TRUE, All, AtLeast, EntityIs, Features, Flag, Not
from yuqingd.rules.conditions import Any as AnyOf
from yuqingd.rules.engine import RULES_PER_RULESET, DurableMatcher, PythonMatcher

NAMES = ("城关第二中学", "六处学校", "县教育局", "实验小学")
FLAGS = ("topic:校园安全", "topic:*", "sentiment:negative", "sentiment:neutral",
         "kw:title:体罚", "kw:both:食堂", "source:tieba")
NUMBERS = ("severity", "reposts", "comments")

# Examples are not stored (a failure prints the example to reproduce). Building a matcher leaks
# a little memory in durable-rules: keep the number of generated rule sets moderate.
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

numbers = st.integers(-2, 12) | st.integers(0, 2**40)
leaves = st.one_of(
    st.builds(Flag, st.sampled_from(FLAGS)),
    st.builds(EntityIs, st.none() | st.frozensets(st.sampled_from(NAMES))),
    st.builds(AtLeast, st.sampled_from(NUMBERS), numbers),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(All, st.lists(inner, max_size=4).map(tuple)),
        st.builds(AnyOf, st.lists(inner, max_size=4).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=16,
)
features = st.builds(
    Features,
    st.sampled_from((*NAMES, "", "外校")),  # a watched name, none, one no rule mentions
    st.frozensets(st.sampled_from((*FLAGS, "kw:text:未用"))),
    st.dictionaries(st.sampled_from(NUMBERS), numbers),
)


_stderr: list[int] = [2]


@pytest.fixture(scope="module", autouse=True)
def _uncaptured_stderr(request):
    """The hang guard writes to the real stderr: pytest's capture is lost when it exits."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        _stderr[0] = os.dup(2)
    yield
    os.close(_stderr[0])
    _stderr[0] = 2


@contextlib.contextmanager
def hang_guard():
    """A hang in durable-rules ends the run with a traceback instead of blocking it."""
    faulthandler.dump_traceback_later(60, exit=True, file=_stderr[0])
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def watchdog():
    with hang_guard():
        yield


def agree(rules, items) -> None:
    pairs = [(f"r{i}", cond) for i, cond in enumerate(rules)]
    with hang_guard():
        durable, python = DurableMatcher(pairs), PythonMatcher(pairs)
        for f in items:
            assert durable.match(f) == python.match(f), f


@SETTINGS
@given(rules=st.lists(conditions, min_size=1, max_size=6),
       items=st.lists(features, min_size=30, max_size=30))
def test_durable_matcher_agrees_with_python_on_generated_rules(rules, items):
    """Random condition trees (empty groups, negations, nesting) match the same features."""
    agree(rules, items)


WIDE_FLAGS = tuple(f"kw:both:词{i}" for i in range(90))
wide_leaves = st.one_of(
    st.builds(Flag, st.sampled_from(WIDE_FLAGS)),
    st.builds(AtLeast, st.sampled_from(NUMBERS), st.integers(0, 40)),
    st.builds(EntityIs, st.frozensets(st.sampled_from(NAMES), min_size=1)),
)
wide_conditions = st.recursive(
    wide_leaves,
    lambda inner: st.one_of(
        st.builds(AnyOf, st.lists(inner, min_size=2, max_size=70).map(tuple)),
        st.builds(All, st.lists(inner, max_size=4).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=120,
)
wide_features = st.builds(
    Features,
    st.sampled_from((*NAMES, "")),
    st.frozensets(st.sampled_from(WIDE_FLAGS), max_size=90),
    st.dictionaries(st.sampled_from(NUMBERS), st.integers(0, 40)),
)


@settings(SETTINGS, max_examples=12)
@given(rules=st.lists(wide_conditions, min_size=20, max_size=60),
       items=st.lists(wide_features, min_size=10, max_size=10))
def test_durable_matcher_agrees_with_python_on_wide_generated_packs(rules, items):
    """Packs with long keyword lists and items full of keywords cross the engine's table sizes."""
    agree(rules, items)


def test_durable_matcher_splits_a_thousand_rules_across_rulesets(watchdog):
    """1,000 rules (one durable-rules ruleset hangs at 512) are split and all match correctly."""
    names = [f"第{i}中学" for i in range(1000)]
    rules = [(f"r{i:04d}", All((EntityIs(frozenset({names[i], names[(i + 7) % 1000]})),
                                AnyOf((Flag("sentiment:negative"), AtLeast("reposts", i))))))
             for i in range(1000)]
    durable, python = DurableMatcher(rules), PythonMatcher(rules)
    assert len(durable._rulesets) >= -(-1000 // RULES_PER_RULESET)
    for name in (names[0], names[500], names[999], "", "外校"):
        for f in (Features(name, frozenset({"sentiment:negative"})),
                  Features(name, frozenset(), {"reposts": 600})):
            assert durable.match(f) == python.match(f)
    assert durable.match(Features(names[999], frozenset({"sentiment:negative"}))) == [
        "r0992", "r0999"]


def test_durable_matcher_matches_negation_only_rules_without_hanging():
    """Rules that hold without any positive test match, in a child process so that a hang (the
    engine's failure for an unguarded one, or an empty $and) fails the test instead of the run."""
    script = textwrap.dedent("""
        from yuqingd.rules.conditions import All, AtLeast, EntityIs, Features, Flag, Not
        from yuqingd.rules.conditions import Any as AnyOf
        from yuqingd.rules.engine import DurableMatcher
        m = DurableMatcher([
            ("not-flag", Not(Flag("topic:*"))),
            ("no-entity", Not(EntityIs(None))),
            ("below", Not(AtLeast("reposts", 10))),
            ("either", AnyOf((Not(Flag("a")), Flag("b")))),
            ("always", All(())),
            ("never", AnyOf(())),
            ("not-in-empty-list", Not(EntityIs(frozenset()))),
            ("in-empty-list", EntityIs(frozenset())),
        ])
        print(m.match(Features("", frozenset())))
        print(m.match(Features("六处学校", frozenset({"a"}))))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.splitlines() == [
        "['not-flag', 'no-entity', 'below', 'either', 'always', 'not-in-empty-list']",
        "['not-flag', 'below', 'always', 'not-in-empty-list']"], out


def test_durable_rules_loops_on_a_bare_negation_rule():
    """Why the compiler guards every rule: a bare $nex rule also matches the engine's own state
    fact, re-asserted after each action, and fires for ever inside assert_fact."""
    script = textwrap.dedent("""
        import faulthandler
        from durable import engine
        class Host(engine.Host):
            def _run(self):
                pass
        host = Host()
        host.set_rulesets({"rs": {"r": {"all": [{"m": {"$nex": {"f0": 1}}}],
                                        "run": lambda c: None}}})
        faulthandler.dump_traceback_later(2, exit=True)
        host.assert_fact("rs", {"id": "x", "entity": 1})
        print("returned")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert "returned" not in out.stdout
    assert "Timeout" in out.stderr


F = [f"kw:both:词{i}" for i in range(700)]
ALL_F = frozenset(F)
LIMIT_SHAPES = {
    # 16 $and/$or groups in one rule: error 113 (32 expression slots per rule)
    "sixteen groups": ([All(tuple(AnyOf((Flag(F[2 * i]), Flag(F[2 * i + 1]))) for i in range(16)))],
                       [Features("x", frozenset(F[0:32:2])), Features("x", frozenset(F[:30]))]),
    # 130 rules starting with a negation: error 107 (128 $nex tests under one node)
    "many negations": ([Not(Flag(F[i])) for i in range(130)],
                       [Features("x", frozenset()), Features("x", frozenset(F[:65]))]),
    # 300 identical rules: error 108 (256 rules ending at one node)
    "identical rules": ([EntityIs(None)] * 300, [Features("x", frozenset())]),
    # 70 thresholds that all hold: error 303 (a 64-entry stack while matching)
    "many thresholds": ([AtLeast("severity", i) for i in range(70)],
                        [Features("x", frozenset(), {"severity": 100}),
                         Features("x", frozenset(), {"severity": 30})]),
    # 100 keywords of one rule all present: error 303
    "many keywords present": ([AnyOf(tuple(Flag(f) for f in F[:100]))],
                              [Features("x", frozenset(F[:100])), Features("x", frozenset())]),
    # 600 keywords in one rule: a full 512-slot table, matching never returns
    "long keyword list": ([AnyOf(tuple(Flag(f) for f in F[:600]))],
                          [Features("x", frozenset({F[599]})), Features("x", frozenset())]),
    # 600 names in one rule: the same table, for entity
    "long entity list": ([EntityIs(frozenset(f"校{i}" for i in range(600)))],
                         [Features("校599", frozenset()), Features("x", frozenset())]),
    # 300 flags in one fact: error 302 (255 properties per fact)
    "many flags in a fact": ([Flag(f) for f in F[:300]], [Features("x", ALL_F)]),
    # an item that satisfies a rule in many ways fires it many times inside the engine
    "many ways": ([All(tuple(AnyOf(tuple(Flag(F[10 * j + i]) for i in range(4)))
                             for j in range(4)))], [Features("x", ALL_F)]),
}


@pytest.mark.parametrize("shape", LIMIT_SHAPES)
def test_durable_matcher_stays_within_engine_limits(shape):
    """Shapes that break durable-rules 2.0.28 (errors, hangs) are compiled around and agree."""
    rules, items = LIMIT_SHAPES[shape]
    agree(rules, items)


def test_durable_matcher_reports_a_rule_once_however_many_ways_it_holds():
    """Two true branches of an $or fire the engine rule twice; the rule is reported once."""
    rules = [("r", AnyOf((Flag("a"), Flag("b")))), ("s", TRUE)]
    assert DurableMatcher(rules).match(Features("x", frozenset({"a", "b"}))) == ["r", "s"]


def test_durable_matcher_leaves_no_facts_in_the_engine(watchdog):
    """Every fact is retracted after matching, matched or not: the engine holds nothing."""
    rules = [(f"r{i}", All((EntityIs(frozenset({NAMES[i % 4]})), Flag(FLAGS[i % 7]),
                            AtLeast("reposts", i))))
             for i in range(900)]
    durable = DurableMatcher(rules)
    for i in range(200):
        durable.match(Features(NAMES[i % 4] if i % 3 else "", frozenset(FLAGS[: i % 8]),
                               {"reposts": i * 5}))
    assert len(durable._rulesets) > 1
    assert all(durable._host.get_facts(name) == [] for name in durable._rulesets)


def test_durable_matcher_starts_no_background_threads():
    """No engine timer threads: building and matching run on the caller's thread only."""
    before = set(threading.enumerate())
    durable = DurableMatcher([("r", Flag("topic:*")), ("s", Not(Flag("topic:*")))])
    assert durable.match(Features(NAMES[0], frozenset({"topic:*"}))) == ["r"]
    assert set(threading.enumerate()) == before
