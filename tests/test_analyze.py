"""`yuqingd analyze`: one JSON line per sample item, in the format docs/analyze.md documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处, 耒阳六处学校], not: [六处停车场]}
  topics:
    校园安全: {keywords: [溺水, 坠楼, 校车侧翻], severity: 重大}
    师德师风: {keywords: [体罚], severity: 较大}
  exclude: [招聘]
  negative_words: [体罚]
chains:
  major: [{notify: 值班员}]
rules:
  - id: campus-safety
    title: 校园安全
    match: {topic: 校园安全}
    then: {incident: {severity: 重大, chain: major}}
"""

CONFIG = """\
state_dir: state
rules: [rules.yaml]
sources:
  - {name: forum, kind: replay, path: stream.jsonl}
  - {name: weibo, kind: replay, path: stream.jsonl}
notifiers:
  - {name: out, kind: jsonl, path: out.jsonl}
roles:
  值班员: {person: 张明, channels: [out]}
"""

ORIGINAL = ("今天下午六处学校一名老师在教室体罚学生，让学生在走廊罚站两个小时，"
            "家长们非常气愤，要求学校给个说法")


@pytest.fixture
def config(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "yuqingd.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run_cli(*args, lang="zh_CN.UTF-8", stdin=None):
    # LANG decides (YUQINGD_LANG, which `--lang` sets, would win over it).
    unset = ("LC_ALL", "YUQINGD_LANG")
    env = {k: v for k, v in os.environ.items() if k not in unset} | {"LANG": lang}
    return subprocess.run([sys.executable, "-m", "yuqingd", *map(str, args)], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)


def write_sample(tmp_path, lines: list) -> os.PathLike:
    path = tmp_path / "sample.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False))
                            + "\n" for x in lines), encoding="utf-8")
    return path


def test_analyze_output_format_is_stable(config, tmp_path):
    """Each line holds exactly the documented fields, in the documented order: the format
    scripts rely on (docs/analyze.md). Changing this test means changing the docs' promise."""
    sample = write_sample(tmp_path, [
        {"id": "p1", "source": "weibo", "title": "六 處 學 校学生溺水",
         "text": "网友称没有老师体罚", "published": "2026-05-10T10:00:00+08:00"},
    ])
    result = run_cli("analyze", "--config", config, "--items", sample)
    assert result.returncode == 0, result.stderr
    line = result.stdout.splitlines()[0]
    assert json.loads(line) == {
        "line": 1,
        "source": "weibo",
        "id": "p1",
        "title": "六 處 學 校学生溺水",
        "entities": [{"entity": "六处学校", "via": "六处学校", "quote": "六 處 學 校"}],
        "topics": ["校园安全", "师德师风"],
        "asserted_topics": ["校园安全"],
        "sentiment": {"label": "negative", "score": -1.0, "negative_words": ["溺水"],
                      "positive_words": [], "negations": ["没有…体罚"], "denials": [],
                      "sarcasm": [], "plugin_scores": {}},
        "severity": "重大",
        "excluded_by": None,
        "story": {"id": 1, "new": True, "items": 1, "spread": 0.33},
        "why": json.loads(line)["why"],
    }
    assert list(json.loads(line)) == ["line", "source", "id", "title", "entities", "topics",
                                      "asserted_topics", "sentiment", "severity",
                                      "excluded_by", "story", "why"]
    assert "命中 六处学校（原文「六 處 學 校」）" in json.loads(line)["why"]
    assert "六 處 學 校" in line  # Chinese as written, not \\u escapes


def test_analyze_groups_reposts_and_shows_the_reasons(config, tmp_path):
    """A repost with 【转载】 and 展开全文 joins the original's story; a flat report is 重大
    from its topic; a short alias inside its `not:` phrase is no match; a denied
    rumour is not negative."""
    sample = write_sample(tmp_path, [
        {"id": "a", "title": "老师体罚学生", "text": ORIGINAL, "at": "2026-05-10T10:00:00+08:00"},
        {"id": "b", "title": "【转载】老师体罚学生", "text": ORIGINAL[:40] + "...展开全文",
         "at": "2026-05-10T10:30:00+08:00"},
        {"action": "ack", "at": "2026-05-10T10:31:00+08:00", "by": "张明"},
        "",
        {"id": "c", "title": "校车侧翻",
         "text": "今天早上一辆校车在乡道转弯处侧翻，车上有12名学生。"},
        {"id": "d", "title": "景区新增六处停车场"},
        {"id": "e", "title": "网传六处学校学生坠楼，经核查不实"},
    ])
    result = run_cli("analyze", "--config", config, "--items", sample)
    assert result.returncode == 0, result.stderr
    out = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert list(out) == ["a", "b", "c", "d", "e"]
    assert out["b"]["line"] == 2 and out["c"]["line"] == 5
    assert out["a"]["story"] == {"id": 1, "new": True, "items": 1, "spread": 0.33}
    assert out["b"]["story"] == {"id": 1, "new": False, "items": 2, "spread": 0.67}
    assert out["a"]["entities"][0]["via"] == "六处学校"
    assert out["a"]["sentiment"]["label"] == "negative"
    assert "体罚" in out["a"]["sentiment"]["negative_words"]
    assert out["c"]["severity"] == "重大" and out["c"]["asserted_topics"] == ["校园安全"]
    assert out["c"]["story"]["id"] == 2
    assert out["d"]["entities"] == []
    assert out["e"]["sentiment"]["label"] != "negative"
    assert out["e"]["sentiment"]["denials"]
    assert out["e"]["asserted_topics"] == [] and out["e"]["severity"] == "一般"


def test_analyze_reads_stdin_and_marks_exclusions(config):
    """`--items -` reads the sample from standard input; an excluded item says by what."""
    result = run_cli("analyze", "--config", config, "--items", "-",
                     stdin='{"title": "六处学校招聘教师"}\n')
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["id"] == "1" and record["source"] == "forum"  # defaults: line, first source
    assert record["excluded_by"] == "招聘"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"title": "六处"}\n{"title": "六处"', "sample.jsonl:2:15: 不是有效的 JSON"),
        ('["六处"]', "sample.jsonl:1: 应为一个 JSON 对象"),
        ('{"title": "六处", "source": "froum"}', "sample.jsonl:1: 配置中没有信息源 'froum'"),
        ('{"title": "六处", "at": "10:00"}', "sample.jsonl:1: 字段 at 应为带时区"),
    ],
)
def test_analyze_bad_line_exits_65_naming_it(config, tmp_path, content, message):
    """A bad line stops the run before any output, exit 65 (EX_DATAERR), naming file:line."""
    sample = tmp_path / "sample.jsonl"
    sample.write_text(content, encoding="utf-8")
    result = run_cli("analyze", "--config", config, "--items", sample)
    assert result.returncode == 65, result.stderr
    assert result.stdout == ""
    assert message in result.stderr


def test_analyze_missing_file_exits_66(config, tmp_path):
    """A sample file that cannot be read exits 66 (EX_NOINPUT)."""
    result = run_cli("analyze", "--config", config, "--items", tmp_path / "missing.jsonl")
    assert result.returncode == 66
    assert "missing.jsonl" in result.stderr


def test_analyze_help_is_chinese_first():
    """`yuqingd analyze --help` explains itself in Chinese; in English with --lang en."""
    result = run_cli("analyze", "--help")
    assert result.returncode == 0
    assert "不存储、不运行规则" in result.stdout and "样本文件" in result.stdout
    english = run_cli("analyze", "--help", "--lang", "en").stdout
    assert "Analyse each item of a sample" in english and "JSONL sample" in english
    assert "analyze" in run_cli("--help").stdout
