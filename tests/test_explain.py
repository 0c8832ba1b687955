"""`yuqingd explain`: why one item matches, or does not match, each rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from yuqingd.config import load_config
from yuqingd.explain import ItemError, explain_item, read_item
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处, 耒阳六处学校]}
    - {name: 城关第二中学, aliases: [城关二中]}
  topics:
    校园安全: {keywords: [溺水, 坠楼], severity: 重大}
  exclude: [招聘]
  negative_words: [体罚, 溺水, 坠楼]
  positive_words: [表彰]
calendar:
  - {name: 高考, each_year: {from: "06-07", to: "06-10"}, vigilance: high}
chains:
  major: [{notify: 值班员}]
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 5, within: 1h, per: entity}
    vigilance: {high: {count: 2}}
    except_on: [高考]
    then: {incident: {severity: 较大, chain: major}}
  - id: campus-fall
    title: 校园坠楼
    match: {keywords: {any: [坠楼]}}
    only_on: [高考]
    then: {notify: {role: 值班员}}
"""

CONFIG = """\
state_dir: state
rules: [rules.yaml]
sources:
  - {name: forum, kind: %(source)s}
notifiers:
  - {name: out, kind: %(notifier)s}
roles:
  值班员: {person: 张明, channels: [out]}
"""

REAL_KINDS = {"source": "replay, path: stream.jsonl", "notifier": "jsonl, path: out.jsonl"}
ITEM = {"id": "p1", "title": "六处老师体罚学生", "text": "家长很气愤", "reposts": 3}


@pytest.fixture
def setup(tmp_path):
    """A config and rule file in tmp_path; returns the config path."""

    def make(kinds: dict[str, str]):
        (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
        path = tmp_path / "yuqingd.yaml"
        path.write_text(CONFIG % kinds, encoding="utf-8")
        return path

    return make


@pytest.fixture
def chinese(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")


def explained(config_path, tmp_path, item: dict) -> str:
    config = load_config(config_path, Plugins(get_plugin_manager(extra=(Harness(),))))
    item_path = tmp_path / "item.json"
    item_path.write_text(json.dumps(item, ensure_ascii=False), encoding="utf-8")
    return explain_item(config, read_item(item_path, [s.name for s in config.sources]))


def harness_config(setup):
    return setup({"source": "scripted", "notifier": "capture"})


def test_explain_alias_match_and_keyword_miss_in_chinese(setup, tmp_path, chinese):
    """One rule matches through an alias, the other fails on its keyword; both say why."""
    text = explained(harness_config(setup), tmp_path, ITEM)
    assert "监测对象: 六处学校（别名「六处」）" in text
    # 气愤 comes from the shipped lexicon, 体罚 from the pack
    assert "情感: 负面（得分 -1.00；负面词: 体罚、气愤；正面词: 无）" in text
    burst = text[text.index("negative-burst「"):text.index("campus-fall「")]
    assert text[:text.index("negative-burst「")].endswith("[✓ 匹配] ")
    assert "监测对象 六处学校: 条件满足（计入分组 六处学校）" in burst
    assert "✓ 提及任一监测对象（本条: 六处学校）" in burst
    assert "✓ 情感为 负面" in burst
    assert "阈值: 1 小时内同一监测对象 5 条" in burst
    assert "警戒级别高（high）时: 条数 2" in burst
    assert "以下重点日期不触发: 高考" in burst
    fall = text[text.index("[✗ 不匹配] campus-fall「校园坠楼」"):]
    assert "本条: 条件不满足" in fall
    assert "✗ 标题或正文含「坠楼」" in fall
    assert "仅在重点日期触发: 高考" in fall
    assert "阈值: 无，每条匹配的信息都触发" in fall


def test_explain_excluded_item_matches_no_rule(setup, tmp_path, chinese):
    """An item with an exclusion word is shown as matching nothing, even where conditions hold."""
    text = explained(harness_config(setup), tmp_path,
                     {"id": "p2", "title": "六处学校招聘教师，曾有学生坠楼"})
    assert "排除: 含排除词「招聘」，不参与任何规则匹配" in text
    assert "[✓" not in text
    assert "条件满足，但本条含排除词，不计入" in text


def test_explain_item_without_entity_counts_by_story_for_rules_without_threshold(
        setup, tmp_path, chinese):
    """An item naming no watched entity fails per-entity rules but counts, by its story, for a
    rule without threshold."""
    text = explained(harness_config(setup), tmp_path, {"id": "p3", "title": "某校学生坠楼"})
    assert "主题: 校园安全（关键词: 坠楼）" in text
    assert "严重程度: 重大（按主题: 校园安全 重大；与情感无关）" in text
    assert "[✓ 匹配] campus-fall「校园坠楼」" in text
    assert "本条: 条件满足（计入分组 本条所属报道）" in text


def test_explain_english_headings_with_lang_en(setup, tmp_path, monkeypatch):
    """With LANG=en_US.UTF-8 headings, verdicts and condition lines are English."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    text = explained(harness_config(setup), tmp_path, ITEM)
    assert "Enrichment:" in text
    assert "entities: 六处学校 (alias “六处”)" in text
    assert "[✓ matches] negative-burst" in text
    assert "threshold: 5 items for the same entity within 1h" in text
    assert "[✗ no match] campus-fall" in text
    assert "✗ title or text contains “坠楼”" in text
    assert "富化" not in text and "匹配]" not in text


def run_cli(*args, lang="zh_CN.UTF-8"):
    env = {k: v for k, v in os.environ.items() if k != "LC_ALL"} | {"LANG": lang}
    return subprocess.run([sys.executable, "-m", "yuqingd", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_explain_cli_prints_explanation_and_exits_0(setup, tmp_path):
    """`yuqingd explain` with real kinds prints the explanation; source defaults to the first."""
    config = setup(REAL_KINDS)
    item = tmp_path / "item.json"
    item.write_text(json.dumps(ITEM, ensure_ascii=False), encoding="utf-8")
    result = run_cli("explain", "--config", config, "--item", item)
    assert result.returncode == 0, result.stderr
    assert "来源: forum（类型 replay）" in result.stdout
    assert "[✓ 匹配] negative-burst「涉校负面信息集中出现」" in result.stdout
    english = run_cli("explain", "--config", config, "--item", item, lang="en_US.UTF-8")
    assert english.returncode == 0, english.stderr
    assert "Rules (2 enabled;" in english.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "无法读取信息文件"),
        ('{"title": "六处"', "item.json:1:15: 不是有效的 JSON"),
        ('{"title": "六处"} {"title": "二中"}',
         "item.json:1:17: 不是有效的 JSON：一个 JSON 值之后还有多余内容"),
        ("{'title': '六处'}", "item.json:1:2: 不是有效的 JSON：字段名须用英文双引号括起"),
        ('["六处"]', "应为一个 JSON 对象"),
        ('{"title": "六处", "reposts": "many"}', "字段 reposts 应为非负整数"),
        ('{"title": "六处", "source": "froum"}', "配置中没有信息源 'froum'"),
        ('{"title": "六处", "published": "2026-05-10 10:00"}', "字段 published 应为带时区"),
    ],
)
def test_explain_cli_bad_item_exits_66(setup, tmp_path, content, message):
    """An unreadable or invalid item file exits 66 (EX_NOINPUT) with a message naming it."""
    config = setup(REAL_KINDS)
    item = tmp_path / "item.json"
    if content is not None:
        item.write_text(content, encoding="utf-8")
    result = run_cli("explain", "--config", config, "--item", item)
    assert result.returncode == 66
    assert result.stdout == ""
    assert str(item) in result.stderr and message in result.stderr


def test_explain_cli_config_error_exits_78(setup, tmp_path):
    """A broken config is reported like `check` does, exit 78, before the item is read."""
    config = setup(REAL_KINDS)
    config.write_text(config.read_text(encoding="utf-8") + "shutdown_grase: 5s\n",
                      encoding="utf-8")
    result = run_cli("explain", "--config", config, "--item", tmp_path / "missing.json")
    assert result.returncode == 78
    assert "未知字段 'shutdown_grase'" in result.stderr


def test_explain_read_item_defaults_and_types(tmp_path):
    """The source defaults to the first configured one; published is read with its offset."""
    path = tmp_path / "item.json"
    path.write_text('{"id": 7, "title": "t", "published": "2026-05-10T10:00:00+08:00", '
                    '"at": "ignored"}', encoding="utf-8")
    item = read_item(path, ["forum", "news"])
    assert (item.source, item.id, item.published_at) == ("forum", "7", 1_778_378_400.0)
    path.write_text('{"title": "t", "comments": true}', encoding="utf-8")
    with pytest.raises(ItemError):
        read_item(path, ["forum"])
