"""`yuqingd schema`: JSON Schemas generated from the loader's models accept what it accepts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.rules.loader import Names, load_rules
from yuqingd.rules.model import Entity
from yuqingd.schema import config_schema, rules_schema
from yuqingd.testing import Harness

from .conftest import REPO

jsonschema = pytest.importorskip("jsonschema")

RULE_PACKS = sorted((REPO / "rules").glob("*.yaml"))
CONFIGS = [REPO / "etc" / "demo" / "yuqingd.yaml", REPO / "etc" / "yuqingd.yaml"]


class EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2: 2026-06-07 is a string)."""


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str):
    return yaml.load(text, Loader=EditorLoader)


def problems(schema: dict, document) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document))


def installed() -> Plugins:
    return Plugins(get_plugin_manager())


# A rule file using every section and most of the language, accepted by the loader.
RICH = """\
lists:
  体罚词: [体罚, 罚站]
  水军: [甲, 乙]
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处, 耒阳六处学校]}
  topics:
    校园安全: {keywords: [溺水, 坠楼], severity: 重大}
    师德师风: [$体罚词, 有偿补课]
  exclude: [招聘]
  negative_words: [$体罚词, 溺水]
  positive_words: [表彰]
calendar:
  - {name: 高考, each_year: {from: 06-07, to: 06-10}, lead: 1d, vigilance: high}
  - {name: 国庆, holiday: 国庆节}
  - {name: 两会, dates: [2027-03-03/2027-03-12]}
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 组长, repeat_every: 1h}
rules:
  - id: burst
    title: 负面集中
    match:
      entity: any
      any:
        - {topic: [校园安全, 师德师风]}
        - {keywords: {all: [学生, 老师], none: [演练], in: text}}
      not: {author_in: $水军}
      engagement: {reposts: 10}
    threshold: {count: 5, within: 1h30m, per: entity}
    vigilance: {high: {count: 2, severity: 重大}, elevated: {within: 2h}}
    except_on: [国庆]
    then: {incident: {severity: 较大, chain: major}}
  - id: spike
    title: 突增
    match: {sentiment: [negative, neutral], severity_at_least: 较大}
    threshold: {spike: {factor: 3, within: 1h, baseline: 1d}, per: topic}
    only_on: [any]
    cooldown: 2h
    then: {notify: {role: 值班员}, watch: 6h, tag: [突增]}
  - id: story
    title: 新报道
    match: {topic: any}
    threshold: {new_story: true, per: story}
    then: {tag: [新]}
  - id: quiet
    title: 静默
    threshold: {flatline: {silent_for: 6h}, per: source}
    then: {notify: {role: 值班员}}
  - id: weekly
    title: 周报
    schedule: 每周一 09:00
    then: {report: weekly}
overrides:
  burst: {threshold: {count: 4, within: 1h}}
tests:
  - name: 三条
    at: "2026-05-10T10:00:00+08:00"
    until: 30m
    events:
      - {after: 0m, id: p1, title: 六处学校老师体罚学生}
    expect:
      - {nothing: true}
"""


def test_schema_rules_validates_shipped_rule_packs():
    """Every rule pack shipped in rules/ is valid under the generated rule-file schema."""
    assert RULE_PACKS
    schema = rules_schema()
    for path in RULE_PACKS:
        assert problems(schema, load(path.read_text(encoding="utf-8"))) == [], path


def test_schema_config_validates_shipped_configs():
    """The shipped configs are valid under the config schema of the installed kinds."""
    schema = config_schema(installed())
    for path in CONFIGS:
        assert problems(schema, load(path.read_text(encoding="utf-8"))) == [], path


def test_schema_rules_accepts_a_file_the_loader_accepts(tmp_path):
    """A file using lists, calendar, every threshold kind, schedules and overrides passes both."""
    path = tmp_path / "rich.yaml"
    path.write_text(RICH, encoding="utf-8")
    ruleset = load_rules([path], {"值班员", "组长"}, Names())
    assert len(ruleset.rules) == 5
    assert problems(rules_schema(), load(RICH)) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("    threshold: {count: 5", "    treshold: {count: 5"), "'treshold'"),  # unknown
        (("within: 1h30m", "within: 1 hour"), "threshold"),  # not a duration
        (("severity: 较大, chain", "severity: 很大, chain"), "incident"),  # not a severity
        (("id: spike", "id: Spike!"), "id"),  # not a rule id
    ],
)
def test_schema_rules_rejects_what_the_loader_rejects(tmp_path, change, where):
    """An unknown key, a bad duration, severity or rule id fails both schema and loader."""
    text = RICH.replace(*change)
    assert text != RICH
    found = problems(rules_schema(), load(text))
    assert found and any(where in p for p in found), found
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_rules([path], {"值班员", "组长"}, Names())


CONFIG = """\
state_dir: state
rules: [rules.yaml]
sources:
  - {name: forum, kind: replay, path: stream.jsonl, speed: 30}
  - {name: news, kind: rss, url: "https://news.example/rss", interval: 5m}
notifiers:
  - {name: alerts, kind: jsonl, path: alerts.jsonl}
roles:
  值班员: {person: 张明, channels: [alerts]}
"""


@pytest.mark.parametrize(
    "change",
    [
        ("interval: 5m", "intervall: 5m"),  # unknown option of rss
        ("interval: 5m", "path: feed.xml"),  # an option of another kind
        ("speed: 30", "speed: fast"),  # wrong type
        ("kind: rss", "kind: rsss"),  # no such kind
        ("path: alerts.jsonl", "file: alerts.jsonl"),  # jsonl without its required path
        ("state_dir: state", "state_dir: state\nshutdown_grase: 5s"),  # unknown top-level key
    ],
)
def test_schema_config_rejects_unknown_or_wrong_kind_options(change):
    """An entry is checked against its own kind's options: typos and foreign options fail."""
    assert problems(config_schema(installed()), load(CONFIG)) == []
    text = CONFIG.replace(*change)
    assert text != CONFIG
    assert problems(config_schema(installed()), load(text)) != []


def test_schema_config_has_one_alternative_per_installed_kind():
    """Each sources/notifiers entry is one of the kinds the plugin manager offers."""
    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    schema = config_schema(plugins)
    defs = schema["$defs"]
    for section, offered in (("sources", plugins.source_kinds()),
                             ("notifiers", plugins.notifier_kinds())):
        refs = [alt["$ref"].rsplit("/", 1)[1]
                for alt in schema["properties"][section]["items"]["oneOf"]]
        kinds = {defs[ref]["properties"]["kind"]["const"] for ref in refs}
        assert kinds == set(offered)
        for ref in refs:
            assert list(defs[ref]["properties"])[:2] == ["name", "kind"]
            assert defs[ref]["additionalProperties"] is False
    assert problems(schema, load(CONFIG.replace("kind: replay, path: stream.jsonl, speed: 30",
                                                "kind: scripted"))) == []


def test_schema_documents_declare_dialect_id_and_title():
    """Both schemas are valid draft 2020-12 documents with $id, title and descriptions."""
    for schema in (rules_schema(), config_schema(installed())):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].startswith("urn:yuqingd:schema:")
        assert schema["title"] and schema["description"]
    entity = rules_schema()["$defs"]["Entity"]
    assert entity["description"] == Entity.__doc__


def test_schema_cli_prints_rules_and_writes_config(tmp_path):
    """`yuqingd schema` prints the rule schema; `schema config --output F` writes F."""
    out = subprocess.run([sys.executable, "-m", "yuqingd", "schema"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == rules_schema()
    target = tmp_path / "config.schema.json"
    out = subprocess.run([sys.executable, "-m", "yuqingd", "schema", "config", "--output",
                          str(target)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == config_schema(installed())


def test_schema_durations_accept_text_and_seconds():
    """A duration may be written 1h30m or as seconds; a negative or unitless text fails."""
    schema = rules_schema()
    rule = textwrap.dedent("""\
        rules:
          - {id: r, title: t, cooldown: %s, then: {tag: [x]}}
        """)
    assert problems(schema, load(rule % "1h30m")) == []
    assert problems(schema, load(rule % "90")) == []
    assert problems(schema, load(rule % "-5")) != []
    assert problems(schema, load(rule % '"90"')) != []
