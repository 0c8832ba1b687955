"""The match conditions policy staff write, evaluated on real items by both engines."""

from __future__ import annotations

import textwrap

import pytest

from yuqingd.located import ConfigError
from yuqingd.model import Item
from yuqingd.pipeline.enrich import Analyzer
from yuqingd.rules.engine import make_matcher
from yuqingd.rules.loader import Names, load_rules

PACK = """\
lists:
  重点学校: [六处学校]
  体罚词: [体罚, 罚站]
  可疑账号: [水军甲, 水军乙]
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
    - {name: 城关第二中学, aliases: [城关二中, 二中]}
  topics:
    校园安全: {keywords: [溺水, 坠楼], severity: 重大}
    师德师风: [$体罚词, 有偿补课]
  exclude: [招聘]
  negative_words: [$体罚词, 溺水, 坠楼, 有偿补课]
chains:
  c: [{notify: 值班员}]
rules:
%s
"""


def ruleset_for(tmp_path, rules: str, names: Names | None = None):
    path = tmp_path / "pack.yaml"
    path.write_text(PACK % textwrap.indent(textwrap.dedent(rules), "  "), encoding="utf-8")
    return load_rules([path], {"值班员"}, names or Names(sources=frozenset({"tieba", "news"}),
                                                        source_kinds=frozenset({"rss"})))


def matching(ruleset, engine: str, **fields) -> list[str]:
    """Rule ids that match the item, across its facts."""
    item = Item(**{"source": "tieba", "id": "1", "title": "", **fields})
    analysis = Analyzer(ruleset, {"tieba": "replay", "news": "rss"}).analyze(item)
    if analysis.enrichment.excluded_by:
        return []
    matcher = make_matcher([(r.id, r.condition) for r in ruleset.rules], engine)
    return sorted({rid for f in analysis.facts() for rid in matcher.match(f)})


RULE = "- {{id: {id}, title: t, match: {match}, then: {{tag: [x]}}}}\n"


def rules(**matches: str) -> str:
    return "".join(RULE.format(id=rid.replace("_", "-"), match=m) for rid, m in matches.items())


ENGINES = pytest.mark.parametrize("engine", ["durable", "python"])


@ENGINES
def test_match_entity_alias_list_and_any(tmp_path, engine):
    """entity: a name, a $list of names, or any — found by name or alias."""
    rs = ruleset_for(tmp_path, rules(named="{entity: 城关第二中学}", listed="{entity: $重点学校}",
                                     anyone="{entity: any}"))
    assert matching(rs, engine, title="二中今天开家长会") == ["anyone", "named"]
    assert matching(rs, engine, title="六处的老师") == ["anyone", "listed"]
    assert matching(rs, engine, title="县里的新闻") == []


@ENGINES
def test_match_topic_sentiment_and_severity(tmp_path, engine):
    """Topics come from keyword lists (lists spliced in); severity from the topic."""
    rs = ruleset_for(tmp_path, rules(
        ethics="{topic: 师德师风}", safety_major="{severity_at_least: 重大}",
        negative="{sentiment: negative}", any_topic="{topic: any}"))
    assert matching(rs, engine, title="六处学校老师罚站学生") == ["any-topic", "ethics",
                                                                "negative"]
    assert matching(rs, engine, title="六处学校学生溺水") == ["any-topic", "negative",
                                                            "safety-major"]
    assert matching(rs, engine, title="六处学校运动会") == []


@ENGINES
def test_match_keywords_any_all_none_by_field(tmp_path, engine):
    """keywords any/all/none look in the title, the text or both, as asked."""
    rs = ruleset_for(tmp_path, rules(
        title_any="{keywords: {any: [食堂, 饭菜], in: title}}",
        both_all="{keywords: {all: [食堂, 变质]}}",
        none_ad="{keywords: {any: [食堂], none: [广告]}}"))
    assert matching(rs, engine, title="食堂饭菜变质") == ["both-all", "none-ad", "title-any"]
    assert matching(rs, engine, title="家长反映", text="食堂变质") == ["both-all", "none-ad"]
    assert matching(rs, engine, title="食堂广告") == ["title-any"]


@ENGINES
def test_match_source_engagement_author_and_combinators(tmp_path, engine):
    """source, source_kind, engagement, author lists and any/all/not combine."""
    rs = ruleset_for(tmp_path, rules(
        tieba="{source: tieba}", rss="{source_kind: rss}",
        viral="{engagement: {reposts: 100}}",
        trolls="{author_in: $可疑账号}",
        combo="{any: [{entity: 六处学校}, {engagement: {comments: 50}}], not: {source: news}}"))
    assert matching(rs, engine, title="六处", author="水军乙", reposts=150) == [
        "combo", "tieba", "trolls", "viral"]
    assert matching(rs, engine, source="news", title="六处", comments=80) == ["rss"]
    assert matching(rs, engine, title="县里", comments=80) == ["combo", "tieba"]


@ENGINES
def test_match_exclusion_words_silence_every_rule(tmp_path, engine):
    """An item with an exclusion word matches no rule (it is still stored)."""
    rs = ruleset_for(tmp_path, rules(anyone="{entity: any}"))
    assert matching(rs, engine, title="六处学校招聘教师") == []


def test_lists_append_and_overrides_tune_a_pack_without_copying(tmp_path):
    """A local file extends a shipped pack's lists and topics and retunes its rules."""
    shipped = tmp_path / "shipped.yaml"
    shipped.write_text(PACK % textwrap.indent(
        "- {id: burst, title: t, match: {topic: 师德师风}, "
        "threshold: {count: 5, within: 1h}, then: {incident: {severity: 较大, chain: c}}}",
        "  "), encoding="utf-8")
    local = tmp_path / "local.yaml"
    local.write_text(textwrap.dedent("""\
        lists:
          体罚词: {append: [变相体罚]}
        watchlist:
          topics:
            师德师风: {append: [索要红包]}
        overrides:
          burst: {threshold: {count: 2, within: 30m}}
        """), encoding="utf-8")
    rs = load_rules([shipped, local], {"值班员"})
    assert set(rs.topics["师德师风"].keywords) == {"体罚", "罚站", "变相体罚", "有偿补课",
                                                  "索要红包"}
    burst = rs.rule("burst").rule.threshold
    assert (burst.count, burst.within) == (2, 1800)


def test_a_second_definition_names_the_line_of_the_first(tmp_path):
    """A duplicate rule id, list or entity across two files: the error is at the second one
    and says where the first is, so the writer knows which of the two to rename."""
    first = tmp_path / "pack.yaml"
    first.write_text(textwrap.dedent("""\
        lists:
          体罚词: [体罚]
        watchlist:
          entities:
            - {name: 六处学校}
        rules:
          - {id: burst, title: t, match: {entity: 六处学校}, then: {tag: [x]}}
        """), encoding="utf-8")
    second = tmp_path / "local.yaml"
    second.write_text(textwrap.dedent("""\
        watchlist:
          entities:
            - {name: 六处学校}
        rules:
          - {id: other, title: t, match: {entity: 六处学校}, then: {tag: [x]}}
          - {id: burst, title: t, match: {entity: 六处学校}, then: {tag: [y]}}
        lists:
          体罚词: [罚站]
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules([first, second], set())
    assert sorted(str(e) for e in caught.value.errors) == sorted([
        f"{second}:3:14: 监测对象 '六处学校' 重复（首次定义于 {first}:5）",
        f"{second}:6:10: 规则 id 'burst' 重复，规则 id 是状态的键，必须唯一"
        f"（首次定义于 {first}:7）",
        f"{second}:8:3: 列表 '体罚词' 重复定义（首次定义于 {first}:2）",
    ])


def test_rule_pack_of_a_thousand_rules_loads_and_matches(tmp_path):
    """1,000 rules (over durable-rules' 511-per-ruleset limit) load, split and match."""
    entities = "\n".join(f"    - {{name: 学校{i:04d}}}" for i in range(1000))
    rules = "\n".join(
        f"  - {{id: r{i:04d}, title: t, match: {{entity: 学校{i:04d}}}, then: {{tag: [x]}}}}"
        for i in range(1000))
    path = tmp_path / "big.yaml"
    path.write_text(f"watchlist:\n  entities:\n{entities}\nrules:\n{rules}\n", encoding="utf-8")
    ruleset = load_rules([path], set())
    assert len(ruleset.rules) == 1000
    for engine in ("durable", "python"):
        matcher = make_matcher([(r.id, r.condition) for r in ruleset.rules], engine)
        analysis = Analyzer(ruleset).analyze(Item("s", "1", "学校0999 和 学校0007 的消息"))
        found = sorted({rid for f in analysis.facts() for rid in matcher.match(f)})
        assert found == ["r0007", "r0999"]


def test_engine_falls_back_to_python_where_durable_does_not_import(monkeypatch):
    """Without durable-rules (e.g. unpatched on 3.13), the pure-Python engine is the default."""
    from yuqingd.rules import engine

    assert engine.default_engine() == "durable"
    monkeypatch.setattr(engine, "durable_engine", None)
    assert engine.default_engine() == "python"
    assert engine.make_matcher([]).name == "python"


def test_macros_name_a_condition_reused_across_rules_and_files(tmp_path):
    """A macro defined in one file is used by rules in another; typos and cycles are located."""
    shared = tmp_path / "shared.yaml"
    shared.write_text(textwrap.dedent("""\
        watchlist:
          entities: [{name: 六处学校}]
          negative_words: [体罚]
        macros:
          负面涉校: {entity: any, sentiment: negative}
          高热度: {engagement: {reposts: 100}}
        """), encoding="utf-8")
    local = tmp_path / "local.yaml"
    local.write_text(textwrap.dedent("""\
        rules:
          - {id: hot-negative, title: t, match: {macro: [负面涉校, 高热度]}, then: {tag: [x]}}
          - {id: negative, title: t, match: {macro: 负面涉校}, then: {tag: [x]}}
        """), encoding="utf-8")
    rs = load_rules([shared, local], set())
    analyzer = Analyzer(rs)
    for engine in ("durable", "python"):
        matcher = make_matcher([(r.id, r.condition) for r in rs.rules], engine)

        def ids(matcher=matcher, **fields):
            a = analyzer.analyze(Item(**{"source": "s", "id": "1", **fields}))
            return sorted({rid for f in a.facts() for rid in matcher.match(f)})

        assert ids(title="六处学校体罚", reposts=150) == ["hot-negative", "negative"]
        assert ids(title="六处学校体罚") == ["negative"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        macros:
          a: {macro: b}
          b: {macro: a}
        rules:
          - {id: r, title: t, match: {macro: 负面涉小}, then: {tag: [x]}}
          - {id: s, title: t, match: {macro: a}, then: {tag: [x]}}
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules([shared, bad], set())
    errors = [str(e) for e in info.value.errors]
    assert any(":5:" in e and "未定义的条件宏 '负面涉小'（是否想写 '负面涉校'？）" in e
               for e in errors)
    assert any("条件宏 'a' 循环引用自身" in e for e in errors)
