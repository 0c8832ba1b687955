"""`yuqingd simulate` and `yuqingd test-rules`: the daemon logic on a simulated clock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.rule_tests import report, run_rule_tests, standalone_config
from yuqingd.simulate import SimulationInputError, parse_inputs, simulate
from yuqingd.testing import Harness

from .conftest import REPO


def lines(*records) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in records]


def post(minute: int, n: int, school: str = "六处学校") -> dict:
    return {"at": f"2026-05-10T10:{minute:02d}:00+08:00", "source": "forum", "id": f"p{n}",
            "title": f"{school}老师体罚学生 {n}", "url": f"https://forum.example/t/{n}"}


@pytest.fixture
def plugins():
    return Plugins(get_plugin_manager(extra=(Harness(),)))


def test_simulate_reports_incident_escalation_and_ack_in_time_order(make_config, plugins):
    """Three posts open an incident; no ack for 15 min escalates; an ack stops the ladder."""
    config = load_config(make_config(), plugins)
    inputs = parse_inputs(lines(
        post(0, 1), post(5, 2), post(10, 3),
        {"at": "2026-05-10T10:40:00+08:00", "action": "ack", "by": "李华", "note": "已核实",
         "incident": {"rule": "negative-burst", "key": "六处学校"}},
    ))
    out = simulate(config, plugins, inputs, until=inputs[-1].at + 7200)
    story = [(o["at"][11:16], o["event"], o.get("level"), o.get("kind"))
             for o in out if o["event"] != "rule.fired"]
    assert story == [
        ("10:10", "incident.opened", None, None),
        ("10:10", "notification", 1, "incident.opened"),
        ("10:25", "expectation.missed", 1, None),
        ("10:25", "incident.escalated", 2, None),
        ("10:25", "notification", 2, "incident.escalated"),
        ("10:40", "incident.acknowledged", None, None),
        # One message on the channel both levels use, to both their holders (not one a level).
        ("10:40", "notification", 2, "incident.acknowledged"),
    ]
    acked = next(o for o in out if o.get("kind") == "incident.acknowledged")
    assert [r["role"] for r in acked["to"]] == ["值班员", "办公室主任"]
    opened = out[1]
    assert opened["at"] == "2026-05-10T10:10:00+08:00"
    assert (opened["rule"], opened["key"], opened["severity"]) == ("negative-burst", "六处学校",
                                                                  "较大")
    note = next(o for o in out if o["event"] == "notification")
    assert note["to"] == [{"role": "值班员", "person": "张明"}] and note["channel"] == "duty-phone"


def test_simulate_until_bounds_the_run(make_config, plugins):
    """--until stops the simulation: nothing after it is reported."""
    config = load_config(make_config(), plugins)
    inputs = parse_inputs(lines(post(0, 1), post(1, 2), post(2, 3)))
    out = simulate(config, plugins, inputs, until=inputs[-1].at + 60)
    assert [o["event"] for o in out if o["event"].startswith("incident")] == ["incident.opened"]


def test_simulate_input_errors_name_the_line():
    """A line without an offset, or out of order, is rejected with its line number."""
    with pytest.raises(SimulationInputError, match=r"stream.jsonl:2: 时间缺少时区偏移"):
        parse_inputs(lines(post(0, 1), {"at": "2026-05-10T10:00:00", "title": "x"}),
                     name="stream.jsonl")
    with pytest.raises(SimulationInputError, match=r"s:2: 时间早于上一行"):
        parse_inputs(lines(post(5, 1), post(0, 2)), name="s")


@pytest.mark.parametrize("pack", sorted((REPO / "rules").glob("*.yaml")), ids=lambda p: p.name)
def test_rule_tests_of_the_shipped_packs_pass(pack, plugins):
    """Every shipped rule pack carries tests, and they pass."""
    config, _temp = standalone_config([pack], plugins)
    outcomes = run_rule_tests(config, plugins)
    assert outcomes and all(o.passed for o in outcomes), report(outcomes)


def test_rule_tests_failure_shows_what_happened_instead(tmp_path, plugins):
    """A failing expectation prints what was expected and what happened, in time order."""
    pack = tmp_path / "pack.yaml"
    pack.write_text(textwrap.dedent("""\
        watchlist:
          entities: [{name: 六处学校}]
          negative_words: [体罚]
        chains:
          c: [{notify: 值班员}]
        rules:
          - id: burst
            title: 集中出现
            match: {entity: any, sentiment: negative}
            threshold: {count: 2, within: 1h}
            then: {incident: {severity: 较大, chain: c}}
        tests:
          - name: 两条打开事件，但期望写成了重大
            at: "2026-05-10T10:00:00+08:00"
            events:
              - {after: 0m, title: 六处学校体罚}
              - {after: 5m, title: 六处学校又体罚}
            expect:
              - {incident: burst, severity: 重大}
        """), encoding="utf-8")
    config, _temp = standalone_config([pack], plugins)
    text = report(run_rule_tests(config, plugins))
    assert "✗ pack.yaml: 两条打开事件，但期望写成了重大" in text
    assert "期望但没有发生: incident.opened burst severity=重大" in text
    assert ("2026-05-10T10:05:00+08:00 incident.opened rule=burst key=六处学校 severity=较大"
            in text)
    assert text.endswith("0/1 个规则测试通过")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "yuqingd", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_simulate_prints_jsonl_in_time_order(tmp_path):
    """`yuqingd simulate` over the demo stream prints JSON lines, ordered by time, with offsets."""
    result = cli("simulate", "--config", REPO / "etc/demo/yuqingd.yaml",
                 "--events", REPO / "etc/demo/stream.jsonl", "--until", "2026-05-10T09:11:00+08:00")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["at"] for o in out] == sorted(o["at"] for o in out)
    assert all(o["at"].endswith("+08:00") for o in out)
    assert [o["event"] for o in out if o["event"].startswith("incident")] == [
        "incident.opened", "incident.escalated", "incident.escalated"]


def test_cli_simulate_bad_input_exits_65_naming_the_line(tmp_path):
    """A malformed input line is reported with its file and line; exit status 65."""
    events = tmp_path / "events.jsonl"
    events.write_text('{"at": "2026-05-10T10:00:00+08:00", "title": "x"}\n{oops\n')
    result = cli("simulate", "--config", REPO / "etc/demo/yuqingd.yaml", "--events", events)
    assert result.returncode == 65
    assert result.stderr.startswith(f"yuqingd: {events}:2:")


def test_cli_test_rules_exit_status_follows_results(tmp_path):
    """`yuqingd test-rules FILE` exits 0 when every test passes and 1 otherwise."""
    good = cli("test-rules", REPO / "rules/demo.yaml")
    assert good.returncode == 0 and good.stdout.strip().endswith("3/3 个规则测试通过")
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "rules/demo.yaml").read_text(encoding="utf-8").replace(
        "severity: 较大, at:", "severity: 重大, at:"), encoding="utf-8")
    result = cli("--lang", "en", "test-rules", bad)
    assert result.returncode == 1
    assert "expected, did not happen: incident.opened negative-burst key=六处学校 severity=重大" \
        in result.stdout


def test_cli_test_rules_of_the_demo_config_pass_despite_its_roster_gap():
    """`yuqingd test-rules --config etc/demo/yuqingd.yaml` (the README's demo) passes all three
    tests: the demo roster's duty.gap notifications are not the rules' doing."""
    result = cli("test-rules", "--config", REPO / "etc/demo/yuqingd.yaml")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("3/3 个规则测试通过")
    assert "duty.gap" not in result.stdout


def test_simulate_deadline_falling_at_an_input_instant_fires_first(make_config, plugins):
    """An ack at the very second its deadline falls due comes after the escalation, every run."""
    config = load_config(make_config(), plugins)
    ack = {"at": "2026-05-10T10:25:00+08:00", "action": "ack", "by": "张明",
           "incident": {"rule": "negative-burst", "key": "六处学校"}}
    for _ in range(5):
        out = simulate(config, plugins, parse_inputs(lines(post(0, 1), post(5, 2), post(10, 3),
                                                           ack)))
        assert [o["event"] for o in out if o["event"].startswith("incident.")] == [
            "incident.opened", "incident.escalated", "incident.acknowledged"]


def test_the_last_level_is_reminded_repeat_times_then_left_alone(make_config, plugins):
    """`repeat_times: 2`: two reminders an hour apart, then no more (the record says so)."""
    from .conftest import RULES

    rules = RULES.replace("{notify: 组长, repeat_every: 1h}",
                          "{notify: 组长, repeat_every: 1h, repeat_times: 2}")
    config = load_config(make_config(rules=rules), plugins)
    inputs = parse_inputs(lines(post(0, 1), post(5, 2), post(10, 3)))
    out = simulate(config, plugins, inputs, until=inputs[-1].at + 86400)
    repeated = [o["at"][11:16] for o in out if o["event"] == "incident.repeated"]
    assert repeated == ["11:55", "12:55"]


def test_repeat_times_without_repeat_every_is_refused_at_its_line(make_config, plugins):
    from .conftest import RULES

    rules = RULES.replace("{notify: 组长, repeat_every: 1h}", "{notify: 组长, repeat_times: 2}")
    with pytest.raises(ConfigError) as caught:
        load_config(make_config(rules=rules), plugins)
    assert "repeat_times 需要同时写 repeat_every" in str(caught.value.errors[0])
    assert str(caught.value.errors[0]).split("rules.yaml:")[1].startswith("11:7:")
