"""Hostile or broken YAML in a config or rule file: a located error at the line that caused it,
in Chinese (English with --lang en), never a traceback, a hang, or an exit other than 0 or 78."""

from __future__ import annotations

import time

import pytest

from yuqingd import hookimpl
from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness
from yuqingd.yaml_reader import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE_BYTES

from .conftest import CONFIG, RULES
from .test_config import errors_of, run_cli

CONFIG_LINES = CONFIG.count("\n")
RULE_LINES = RULES.count("\n")

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize(("appended", "line", "message"), [
    ("x: &r [*r]\n", 1, "别名 '*r' 引用了包含它自己的值"),
    ("x: &r {y: *r}\n", 1, "别名 '*r' 引用了包含它自己的值"),
    ("x: !custom 3\n", 1, "不支持的标签 '!custom'"),
    ("x: !!python/object/apply:os.system [ls]\n", 1, "不支持的标签"),
    ("x: a\x00b\n", 1, "YAML 不允许的控制字符 U+0000"),
    ("x: \x1b[31m\n", 1, "YAML 不允许的控制字符 U+001B"),
    ("x: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, f"嵌套超过 {MAX_DEPTH} 层"),
    ("x: " + "9" * 5000 + "\n", 1, "无法读作 int 的值"),
    ("x: " + "9" * 30 + "\n", 1, "超出范围"),
    ("x: *nowhere\n", 1, "未定义的别名"),
    ("x: 2026-02-30\n", 1, "无法读作 timestamp 的值"),
    ("? [a, b]\n: 1\n", 1, "映射的键应为简单的文字或数字"),
    (BOMB, 5, f"别名展开出超过 {MAX_ALIAS_VALUES} 个值"),
])
def test_hostile_config_is_a_located_error(make_config, appended, line, message):
    """Each kind of hostile YAML appended to a good config is rejected at its own line, fast."""
    path = make_config(CONFIG + appended)
    started = time.monotonic()
    errors = errors_of(path)
    assert time.monotonic() - started < 5
    assert any(e.startswith(f"{path}:{CONFIG_LINES + line}:") and message in e
               for e in errors), errors


def test_hostile_rule_file_is_located_in_the_rule_file(make_config, tmp_path):
    """The same holds in a rule file: the error names the rule file and the line."""
    path = make_config(rules=RULES + "extra: &r [*r]\n")
    assert errors_of(path) == [
        f"{tmp_path / 'rules.yaml'}:{RULE_LINES + 1}:12: "
        "别名 '*r' 引用了包含它自己的值（循环引用）"]


def test_non_utf8_byte_is_located(make_config):
    """A byte that is not UTF-8 is reported at its line and column."""
    path = make_config()
    path.write_bytes(path.read_bytes() + b"shutdown_grace: caf\xe9\n")
    assert errors_of(path) == [
        f"{path}:{CONFIG_LINES + 1}:20: 不是 UTF-8 编码的字节 0xe9（请把文件另存为 UTF-8）"]


def test_merge_keys_are_supported_with_their_places(make_config, tmp_path):
    """`<<: *base` merges a mapping; explicit keys win, and an error in a merged value points
    where that value is written."""
    rules = RULES.replace("    - {notify: 值班员, ack_within: 15m}\n",
                          "    - &first {notify: 值班员, ack_within: 15m}\n")
    rules = rules.replace("rules:\n",
                          "  minor:\n    - <<: *first\n      repeat_every: 2h\nrules:\n")
    config = load_config(make_config(rules=rules), Plugins(get_plugin_manager(extra=(Harness(),))))
    (level,) = config.ruleset.chains["minor"]
    assert (level.notify, level.ack_within, level.repeat_every) == ("值班员", 900, 7200)
    # A bad value written in the anchor is located there (once, though used twice) …
    errors = errors_of(make_config(rules=rules.replace("ack_within: 15m}", "ack_within: 15 min}")))
    assert errors == [f"{tmp_path / 'rules.yaml'}:9:40: 时长格式错误: '15 min'"
                      "（示例: 30s, 15m, 1h30m, 2d）"]
    # … and one written beside the merge key, which wins over the merged value, at its line.
    errors = errors_of(make_config(rules=rules.replace("repeat_every: 2h", "ack_within: 2 hours")))
    assert errors == [f"{tmp_path / 'rules.yaml'}:14:19: 时长格式错误: '2 hours'"
                      "（示例: 30s, 15m, 1h30m, 2d）"]


def test_merge_of_a_non_mapping_is_located(make_config):
    """`<<:` with a list of words is an error at that line, not a traceback."""
    path = make_config(CONFIG + "log:\n  <<: [a, b]\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:{CONFIG_LINES + 2}:8: 合并键 '<<' 的值应为映射的别名")


@pytest.mark.parametrize("key", ["st[affing", "union_of", "[key]", "function-after[x]"])
def test_unknown_key_that_looks_like_a_pydantic_tag_is_an_unknown_field(make_config, key):
    """A typo such as `st[affing:` is an unknown field at its line, like any other typo."""
    path = make_config(CONFIG + f"log:\n  '{key}': 1\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:{CONFIG_LINES + 2}:3: 未知字段 '{key}'")


@pytest.mark.parametrize(("value", "message"), [
    ("99999999999999999d", "时长超出范围"),
    ("3651d", "时长超出范围"),
    (".inf", "不是有限数"),
    (".nan", "不是有限数"),
    ("9223372036854775807", "时长超出范围"),
    ("-5", "时长不能为负数"),
])
def test_out_of_range_durations_are_located(make_config, value, message):
    """A duration too large to be a date, infinite or negative is refused at its line."""
    path = make_config(CONFIG + f"shutdown_grace: {value}\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:{CONFIG_LINES + 1}:17: ") and message in error


def test_negative_repeat_times_is_refused(make_config, tmp_path):
    """repeat_times below 1 is an error at its value."""
    rules = RULES.replace("{notify: 组长, repeat_every: 1h}",
                          "{notify: 组长, repeat_every: 1h, repeat_times: -3}")
    (error,) = errors_of(make_config(rules=rules))
    assert error.startswith(f"{tmp_path / 'rules.yaml'}:11:52: 数值过小")


def test_validator_raising_a_type_error_is_located(make_config):
    """A plugin's option model whose validator raises TypeError is a located error."""
    import pydantic

    class Options(pydantic.BaseModel):
        url: str

        @pydantic.field_validator("url")
        @classmethod
        def _boom(cls, value):
            raise TypeError("not today")

    from yuqingd.sources import SourceKind

    class Plugin:
        @hookimpl
        def yuqingd_source_kinds(self):
            return [SourceKind("odd", Options, lambda spec, ctx: None)]

    manager = get_plugin_manager(extra=(Harness(),))
    manager.register(Plugin(), name="yuqingd-odd")
    path = make_config(CONFIG.replace("kind: scripted}}", "kind: scripted}}\n  - {{name: o, "
                                      "kind: odd, url: x}}"))
    with pytest.raises(ConfigError) as info:
        load_config(path, Plugins(manager))
    (error,) = [str(e) for e in info.value.errors]
    assert error.startswith(f"{path}:7:5: 无法校验此处") and "TypeError: not today" in error


def test_cli_check_hostile_config_exits_78_in_english(make_config):
    """`yuqingd --lang en check` prints the located error in English and exits 78."""
    path = make_config(CONFIG + "x: &r [*r]\n")
    result = run_cli("--lang", "en", "check", "--config", str(path))
    assert result.returncode == 78, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:{CONFIG_LINES + 1}:8: alias '*r' refers to itself" in result.stderr


def test_oversized_file_is_refused_before_parsing(make_config):
    """A file beyond the size limit is refused at once, at the line where the limit falls."""
    path = make_config(CONFIG + "# " + "x" * MAX_FILE_BYTES + "\n")
    started = time.monotonic()
    (error,) = errors_of(path)
    assert time.monotonic() - started < 2
    assert error.startswith(f"{path}:{CONFIG_LINES + 1}:1: 文件超过 256 KiB 的上限")


def test_a_rule_file_listed_twice_is_located_in_the_config(make_config):
    """The same rule file twice in `rules:` is one error at the second listing, not a clash of
    every definition with itself."""
    path = make_config(CONFIG.replace("rules: [rules.yaml]", "rules: [rules.yaml, ./rules.yaml]"))
    assert errors_of(path) == [f"{path}:4:21: 规则文件重复列出: ./rules.yaml（删除重复的一项）"]
