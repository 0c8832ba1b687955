"""`yuqingd simulate` output is byte-identical to what it was before the core's redesign (issue 8):
the demo stream and the simulated week are kept as fixtures and diffed line by line.

Regenerate a fixture only for an intended change of behaviour:
``python -m tests.test_simulate_fixtures`` (and say why in the commit).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sqlite3
import subprocess
import sys
import tempfile

from yuqingd.config import load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.simulate import dumps, parse_inputs, parse_time, simulate
from yuqingd.testing import Harness

from .conftest import REPO

FIXTURES = REPO / "tests/fixtures/simulate"
DEMO_ARGS = ["simulate", "--config", "etc/demo/yuqingd.yaml", "--events", "etc/demo/stream.jsonl",
             "--until", "2026-05-18T12:00:00+08:00"]


def demo_output() -> str:
    """The README's simulate command, run as a user would."""
    return subprocess.run([sys.executable, "-m", "yuqingd", *DEMO_ARGS], cwd=REPO, check=True,
                          capture_output=True, text=True, encoding="utf-8").stdout


def week_output() -> str:
    from .test_simulated_week import UNTIL, WEEK, week

    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    config = load_config(WEEK / "yuqingd.yaml", plugins)
    inputs = parse_inputs([json.dumps(line, ensure_ascii=False) for line in week()])
    records = simulate(config, plugins, inputs, until=parse_time(UNTIL))
    return "".join(dumps(record) + "\n" for record in records)


def week_texts() -> str:
    """What people would read in the simulated week: every notification's text and every kept
    report, in the order written (read from the simulation's database after the run)."""
    import yuqingd.simulate

    with tempfile.TemporaryDirectory() as kept:
        @contextlib.contextmanager
        def keep(prefix: str = ""):
            yield kept

        original = yuqingd.simulate.tempfile.TemporaryDirectory
        yuqingd.simulate.tempfile.TemporaryDirectory = keep
        try:
            week_output()
        finally:
            yuqingd.simulate.tempfile.TemporaryDirectory = original
        db = sqlite3.connect(f"{kept}/simulate.sqlite3")
        try:
            out = []
            for ident, payload in db.execute("SELECT id, payload FROM outbox "
                                             "ORDER BY created_at, rowid"):
                out.append(f"=== notification {ident}\n{json.loads(payload)['text']}\n")
            for kind, period, markdown, html in db.execute(
                    "SELECT kind, period, markdown, html FROM reports ORDER BY created_at, rowid"):
                out.append(f"=== report {kind} {period}\n{markdown}\n--- html\n{html}\n")
        finally:
            db.close()
    return "".join(out)


def assert_same(name: str, actual: str) -> None:
    expected = (FIXTURES / name).read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                    f"{name} (fixture)", f"{name} (now)", lineterm="", n=1)
        raise AssertionError("\n".join(list(diff)[:60]))


def test_simulate_demo_output_is_unchanged():
    """The demo week's output (README command) matches the recorded fixture byte for byte."""
    assert_same("demo.jsonl", demo_output())


def test_simulate_week_output_is_unchanged():
    """tests/test_simulated_week.py's scenario produces the recorded output byte for byte."""
    assert_same("week.jsonl", week_output())


def test_simulate_week_texts_are_unchanged():
    """Every notification text and kept report of the simulated week is as recorded."""
    assert_same("week-texts.txt", week_texts())


if __name__ == "__main__":
    (FIXTURES / "demo.jsonl").write_text(demo_output(), encoding="utf-8")
    (FIXTURES / "week.jsonl").write_text(week_output(), encoding="utf-8")
    (FIXTURES / "week-texts.txt").write_text(week_texts(), encoding="utf-8")
