"""``yuqingd test-rules``: run the ``tests:`` written inside rule files on a simulated clock.

A test lists events (simulate input lines; ``after: 10m`` may replace ``at``, counted from the
test's ``at``) and expectations: an incident of a rule (optionally for a key, with a severity), a
notification of a rule (optionally of a kind, at a level, to a role), any event kind, or
``nothing: true``. Each expectation must be met by something that happened; with ``exact: true``
every incident and notification must also have been expected. A failure prints what was expected
and what happened instead, in time order.

Notifications that no rule made (``duty.gap`` of the roster, reminders of the calendar) are not
the rules' doing: they neither break ``exact:`` / ``nothing:`` nor appear in a failure, so a
config with a staffing gap still tests its rules (``yuqingd check`` and ``report duty`` tell of
the gap).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yuqingd.config import Config, load_config
from yuqingd.located import ConfigError, load_yaml, msg
from yuqingd.plugins import Plugins
from yuqingd.rules.model import RuleTest, TestExpectation
from yuqingd.simulate import Input, SimulationInputError, parse_record, simulate
from yuqingd.time.durations import parse_duration

DEFAULT_UNTIL = 3600.0
SHOWN = ("incident.", "notification", "watch.", "report", "flatline", "expectation.", "error")


@dataclass
class Outcome:
    path: Path
    test: RuleTest
    missing: list[TestExpectation]
    unexpected: list[dict[str, Any]]
    happened: list[dict[str, Any]]
    error: str = ""

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.error)


def run_rule_tests(config: Config, plugins: Plugins) -> list[Outcome]:
    """Run every test in the config's rule files."""
    outcomes = []
    for path, test in config.ruleset.tests:
        try:
            inputs = _inputs(test)
        except (SimulationInputError, ValueError, KeyError, TypeError) as exc:
            outcomes.append(Outcome(path, test, [], [], [], error=str(exc)))
            continue
        until = (inputs[-1].at if inputs else test.at.timestamp()) + (test.until or DEFAULT_UNTIL)
        happened = [h for h in (simulate(config, plugins, inputs, until=until) if inputs else [])
                    if _of_rules(h)]
        missing = [e for e in test.expect if not _met(e, happened)]
        unexpected = []
        if test.exact:
            unexpected = [h for h in happened if h["event"] in ("incident.opened", "notification")
                          and not any(_matches(e, h) for e in test.expect)]
        outcomes.append(Outcome(path, test, missing, unexpected, happened))
    return outcomes


def _inputs(test: RuleTest) -> list[Input]:
    start = test.at.timestamp()
    inputs = []
    for number, raw in enumerate(test.events, start=1):
        record = dict(raw)
        if "after" in record:
            after = parse_duration(record.pop("after"))
            moment = dt.datetime.fromtimestamp(start + after, tz=test.at.tzinfo)
            record["at"] = moment.isoformat()
        record.setdefault("at", test.at.isoformat())
        inputs.append(parse_record(record, number, default_source="test"))
    inputs.sort(key=lambda i: i.at)
    return inputs


def _of_rules(h: dict[str, Any]) -> bool:
    """Whether a rule test judges ``h``: everything but notifications no rule made."""
    return h["event"] != "notification" or bool(h.get("rule"))


def _met(expectation: TestExpectation, happened: list[dict[str, Any]]) -> bool:
    if expectation.nothing:
        return not any(h["event"] in ("incident.opened", "notification") for h in happened)
    return any(_matches(expectation, h) for h in happened)


def _matches(e: TestExpectation, h: dict[str, Any]) -> bool:
    if e.nothing:
        return False
    if e.incident is not None:
        if h["event"] != (e.kind or "incident.opened") or h.get("rule") != e.incident:
            return False
    elif e.notification is not None:
        if h["event"] != "notification" or h.get("rule") != e.notification:
            return False
        if e.kind is not None and h.get("kind") != e.kind:
            return False
        if e.role is not None and e.role not in {t["role"] for t in h.get("to", [])}:
            return False
    elif e.kind is not None and h["event"] != e.kind:
        return False
    checks = {"key": e.key, "severity": e.severity, "level": e.level}
    if any(v is not None and h.get(k) != v for k, v in checks.items()):
        return False
    return e.at is None or dt.datetime.fromisoformat(h["at"]) == e.at


def describe(e: TestExpectation) -> str:
    if e.nothing:
        return msg("没有任何事件或通知", "no incident or notification")
    if e.incident is not None:
        text = f"{e.kind or 'incident.opened'} {e.incident}"
    elif e.notification is not None:
        text = f"notification {e.notification}" + (f" {e.kind}" if e.kind else "")
    else:
        text = str(e.kind)
    extras = {"key": e.key, "severity": e.severity, "level": e.level, "role": e.role,
              "at": e.at.isoformat() if e.at else None}
    return text + "".join(f" {k}={v}" for k, v in extras.items() if v is not None)


def line(h: dict[str, Any]) -> str:
    fields = [h["at"], h["event"]]
    for key in ("rule", "key", "kind", "severity", "level", "incident", "stage", "period",
                "channel", "message"):
        if h.get(key) not in (None, ""):
            fields.append(f"{key}={h[key]}")
    if h.get("to"):
        fields.append("to=" + ",".join(f"{t['role']}({t['person']})" for t in h["to"]))
    return " ".join(str(f) for f in fields)


def report(outcomes: list[Outcome]) -> str:
    """The readable result: a line per test, and for failures what differed."""
    out = []
    for o in outcomes:
        mark = "✓" if o.passed else "✗"
        out.append(f"{mark} {o.path.name}: {o.test.name}")
        if o.error:
            out.append(f"    {msg('输入错误', 'bad input')}: {o.error}")
        for e in o.missing:
            out.append(f"    {msg('期望但没有发生', 'expected, did not happen')}: {describe(e)}")
        for h in o.unexpected:
            out.append(f"    {msg('发生但未期望', 'happened, not expected')}: {line(h)}")
        if not o.passed:
            out.append(f"    {msg('实际发生', 'what happened')}:")
            shown = [h for h in o.happened if h["event"].startswith(SHOWN)]
            out += [f"      {line(h)}" for h in shown] or [f"      {msg('（无）', '(nothing)')}"]
    passed = sum(o.passed for o in outcomes)
    out.append(msg(f"{passed}/{len(outcomes)} 个规则测试通过",
                   f"{passed}/{len(outcomes)} rule tests passed"))
    return "\n".join(out)


def standalone_config(rule_files: list[Path], plugins: Plugins) -> tuple[Config, Any]:
    """A config for testing rule files on their own: every role, channel and source they name
    exists, notifications go nowhere. Returns the config and the temp dir keeping it."""
    roles: set[str] = set()
    channels: set[str] = set()
    sources: set[str] = set()
    for path in rule_files:
        try:
            data = load_yaml(path).data
        except ConfigError:
            continue  # load_config reports it with its location
        _collect(data, roles, channels, sources, parent="")
    temp = tempfile.TemporaryDirectory(prefix="yuqingd-test-rules-")
    folder = Path(temp.name)
    channels.add("test")
    config = {
        "state_dir": str(folder / "state"),
        "rules": [str(p.resolve()) for p in rule_files],
        "sources": [{"name": s, "kind": "replay", "path": "/dev/null"}
                    for s in sorted(sources | {"test"})],
        "notifiers": [{"name": c, "kind": "jsonl", "path": str(folder / f"{c}.jsonl")}
                      for c in sorted(channels)],
        "roles": {r: {"person": r, "channels": ["test"]} for r in sorted(roles)},
    }
    path = folder / "yuqingd.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return load_config(path, plugins), temp


def _collect(node: Any, roles: set, channels: set, sources: set, parent: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            words = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            words = [w for w in words if isinstance(w, str) and not w.startswith("$")]
            if key == "notify" and isinstance(value, str):
                roles.add(value)
            elif key == "role" and parent == "notify":
                roles.update(words)
            elif key == "channel" and parent == "notify":
                channels.update(words)
            elif key == "source" and parent in ("match", "any", "all", "not", "events"):
                sources.update(words)
            _collect(value, roles, channels, sources, parent=str(key))
    elif isinstance(node, list):
        for value in node:
            _collect(value, roles, channels, sources, parent=parent)
