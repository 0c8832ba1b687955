"""Property: whatever one mutation does to a shipped config or rule pack, `yuqingd check` exits 0
or 78, prints no traceback, answers within seconds, and a rejection names the line that caused it.

Bounded to well under a minute (YUQINGD_FUZZ_EXAMPLES raises it); the campaign behind the figures
in the issue's closing note is bench/fuzz_inputs.py."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from yuqingd import cli
from yuqingd.plugins import Plugins, get_plugin_manager

from .input_mutations import KINDS, TARGETS, check, lay_out, mutate, problems

EXAMPLES = int(os.environ.get("YUQINGD_FUZZ_EXAMPLES", "60"))


class Shipped(tuple):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "shipped"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    folder = lay_out(tmp_path_factory.mktemp("shipped"))
    plugins = Plugins(get_plugin_manager())
    originals = {path: (folder / path).read_bytes() for path, _ in TARGETS}
    return Shipped((folder, plugins, originals))


def test_the_laid_out_shipped_files_check_clean(shipped, monkeypatch):
    """The unmutated copies pass `check`: every rejection below is the mutation's doing."""
    folder, plugins, _ = shipped
    monkeypatch.setattr(cli, "_plugins", lambda: plugins)
    for config in {c for _, c in TARGETS}:
        verdict = check(folder, config, cli.main)
        assert verdict.code == 0, verdict.stderr


# Each example is independent (a seed picks the place), so shrinking would only cost time.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), kind=st.sampled_from(KINDS),
       seed=st.integers(0, 2**32 - 1))
def test_mutated_shipped_input_is_accepted_or_rejected_at_its_line(shipped, monkeypatch, target,
                                                                   kind, seed):
    """One mutation (typo, type swap, structure, merge key, tag, control character, nesting,
    alias bomb, huge number, tag-like key, non-UTF-8 byte): exit 0 or 78, no traceback, under
    5 s, and a rejection points at the mutated line (or what it renamed or opened)."""
    folder, plugins, originals = shipped
    monkeypatch.setattr(cli, "_plugins", lambda: plugins)
    path, config = target
    mutant = mutate(originals[path].decode("utf-8"), path, kind, random.Random(seed))
    (folder / path).write_bytes(mutant.data)
    try:
        verdict = check(folder, config, cli.main)
    finally:
        (folder / path).write_bytes(originals[path])
    found = problems(mutant, verdict, folder)
    assert verdict.seconds < 5, f"{verdict.seconds:.1f}s"
    assert not found, (mutant.kind, mutant.note, sorted(mutant.lines), found, verdict.stderr)
