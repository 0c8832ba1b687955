"""Config and rule files: every error reported with FILE:LINE:COL, in Chinese, exit 78."""

from __future__ import annotations

import subprocess
import sys

import pytest

from yuqingd import hookimpl
from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness

from .conftest import CONFIG, REPO, RULES


def errors_of(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    return [str(e) for e in info.value.errors]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_config_valid_file_loads(make_config):
    """The fixture config loads: one rule, one source, one notifier, three roles."""
    config = load_config(make_config(), Plugins(get_plugin_manager(extra=(Harness(),))))
    assert [r.id for r in config.ruleset.rules] == ["negative-burst"]
    assert [s.kind for s in config.sources] == ["scripted"]
    assert set(config.roles) == {"值班员", "办公室主任", "组长"}


def test_config_unknown_key_has_location_and_suggestion(make_config):
    """A misspelt key is reported at its line and column with a 'did you mean'."""
    path = make_config(CONFIG + "shutdown_grase: 5s\n")
    line = CONFIG.count("\n") + 1
    assert errors_of(path) == [
        f"{path}:{line}:1: 未知字段 'shutdown_grase'（是否想写 'shutdown_grace'？）"
    ]


def test_config_reports_every_error_not_just_the_first(make_config, tmp_path):
    """Errors in the config and in a rule file are all listed, each with its place."""
    config = CONFIG.replace("kind: capture", "kind: captur").replace(
        "张明, channels: [duty-phone]", "张明, channels: [duty-phon]")
    rules = (RULES.replace("within: 1h", "within: 1 hour")
             .replace("chain: major", "chain: majr")
             .replace("{notify: 组长,", "{notify: 组场,")
             .replace("    match:", "    treshold: 3\n    match:"))
    path = make_config(config, rules)
    errors = errors_of(path)
    rules_path = tmp_path / "rules.yaml"
    # every installed notifier kind is listed (the built-ins grow), then the suggestion
    unknown = f"{path}:8:30: 未知类型 'captur'（已安装: "
    (unknown_kind,) = [e for e in errors if e.startswith(unknown)]
    assert "capture, console" in unknown_kind and "jsonl" in unknown_kind
    assert unknown_kind.endswith("）（是否想写 'capture'？）")
    assert any(e.startswith(f"{path}:10:") and "未定义的通知渠道 'duty-phon'" in e
               and "是否想写 'duty-phone'" in e for e in errors)
    assert any(e.startswith(f"{rules_path}:15:5: 未知字段 'treshold'（是否想写 'threshold'？）")
               for e in errors)
    assert f"{rules_path}:17:35: 时长格式错误: '1 hour'（示例: 30s, 15m, 1h30m, 2d）" in errors
    assert f"{rules_path}:11:16: 配置中未定义角色 '组场'（是否想写 '组长'？）" in errors
    assert len(errors) == 5  # the broken rule's own chain is checked once the rule parses


def test_rules_cross_references_are_checked(make_config, tmp_path):
    """An undefined chain, role or watched name in a rule file is located, with a suggestion."""
    rules = (RULES.replace("chain: major", "chain: majr")
             .replace("{notify: 组长,", "{notify: 组场,")
             .replace("entity: any", "entity: 六处学"))
    path = make_config(rules=rules)
    rules_path = tmp_path / "rules.yaml"
    assert errors_of(path) == [
        f"{rules_path}:11:16: 配置中未定义角色 '组场'（是否想写 '组长'？）",
        f"{rules_path}:15:21: 监测名单中没有 '六处学'（或写 any）（是否想写 '六处学校'？）",
        f"{rules_path}:18:39: 未定义的升级链 'majr'（是否想写 'major'？）",
    ]


def test_plugin_section_is_validated_by_the_plugin_schema(make_config):
    """A source's own options are checked by its kind's schema, located in the config file."""
    config = CONFIG.replace("{{name: forum, kind: scripted}}",
                            "{{name: demo, kind: replay, pth: x.jsonl, speed: fast}}")
    path = make_config(config)
    assert errors_of(path) == [
        f"{path}:6:5: 缺少必填字段 'path'",
        f"{path}:6:32: 未知字段 'pth'（是否想写 'path'？）",
        f"{path}:6:53: 应为数字",
    ]


def test_yaml_syntax_error_is_located(make_config):
    """Broken YAML is reported at the place the parser stopped, not as a traceback."""
    path = make_config(CONFIG + "roles: [unclosed\n")
    # where the parser stopped (the end), and where the unclosed list began
    began, stopped = errors_of(path)
    line = CONFIG.count("\n") + 1
    assert stopped.startswith(f"{path}:{line + 1}:1: YAML 语法错误")
    assert began.startswith(f"{path}:{line}:8: （第 {line + 1} 行的语法错误")


def test_duplicate_key_is_an_error(make_config):
    """A key written twice is an error (YAML would silently keep the last one)."""
    path = make_config(CONFIG + "timezone: UTC\n")
    (error,) = errors_of(path)
    assert error == f"{path}:{CONFIG.count(chr(10)) + 1}:1: 重复的字段 'timezone'"


def test_english_messages_with_lang(make_config, monkeypatch):
    """LANG=en_US.UTF-8 switches messages to English."""
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    path = make_config(CONFIG + "shutdown_grase: 5s\n")
    (error,) = errors_of(path)
    assert error.endswith("unknown field 'shutdown_grase' (did you mean 'shutdown_grace'?)")


def test_cli_check_exits_78_and_prints_every_error(tmp_path):
    """`yuqingd check` prints FILE:LINE:COL lines and exits 78 on a bad config."""
    path = tmp_path / "bad.yaml"
    path.write_text("state_dir: x\nsources:\n  - {name: a, kind: rss, url: ftp://x}\nrulez: []\n",
                    encoding="utf-8")
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 78
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}:3:31: url 应以 http:// 或 https:// 开头: 'ftp://x'"
    assert f"{path}:4:1: 未知字段 'rulez'（是否想写 'rules'？）" in lines
    assert lines[-1] == "配置有 2 处错误"


def test_cli_check_accepts_the_demo_config():
    """The bundled demo config passes `yuqingd check` with exit 0."""
    result = run_cli("check", "--config", str(REPO / "etc/demo/yuqingd.yaml"))
    assert result.returncode == 0, result.stderr
    assert "配置正确" in result.stdout


def test_cli_config_path_from_environment(tmp_path):
    """YUQINGD_CONFIG names the config when --config is not given."""
    import os

    path = tmp_path / "missing.yaml"
    result = run_cli("check", env={**os.environ, "YUQINGD_CONFIG": str(path)})
    assert result.returncode == 78
    assert result.stderr.startswith(f"yuqingd: 找不到配置文件 {path}（YUQINGD_CONFIG）")


def test_cli_missing_config_says_how_to_choose_one(tmp_path):
    """A missing config names --config and YUQINGD_CONFIG, not a fake FILE:1:1 location."""
    result = run_cli("incidents", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 78
    assert "找不到配置文件" in result.stderr
    assert "--config" in result.stderr and "YUQINGD_CONFIG" in result.stderr
    assert ":1:1:" not in result.stderr


def test_config_schema_error_does_not_hide_rule_file_errors(make_config, tmp_path):
    """A bad key in the config still lets `check` report the errors in the rule files."""
    rules = RULES.replace("chain: major", "chain: majr")
    path = make_config(CONFIG + "shutdown_grase: 5s\n", rules)
    errors = errors_of(path)
    assert len(errors) == 2
    assert errors[0].startswith(f"{tmp_path / 'rules.yaml'}:18:39: 未定义的升级链 'majr'")
    assert "shutdown_grase" in errors[1]


def test_config_plugin_hook_error_disables_the_plugin_unless_the_config_uses_it(make_config):
    """A plugin whose hook raises is disabled: a config that does not use it loads; one whose
    source names its kind is an error at that line, naming the plugin and its error."""

    class Broken:
        @hookimpl
        def yuqingd_source_kinds(self):
            raise RuntimeError("missing dependency lxml")

    manager = get_plugin_manager(extra=(Harness(),))
    manager.register(Broken(), name="yuqingd-broken")
    plugins = Plugins(manager)
    load_config(make_config(), plugins)
    assert "missing dependency lxml" in plugins.broken["yuqingd-broken"].error
    uses = CONFIG.replace("sources:\n", "sources:\n  - {{name: x, kind: broken}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(make_config(uses), plugins)
    (error,) = [str(e) for e in info.value.errors]
    assert ":6:" in error and "未知类型 'broken'" in error
    assert "插件 'yuqingd-broken' yuqingd_source_kinds 出错，已停用" in error
    assert "missing dependency lxml" in error


def test_rules_ladder_that_would_stop_early_is_rejected(make_config, tmp_path):
    """A middle level without ack_within (or with repeat_every) would end the ladder: refused."""
    rules = RULES.replace("{notify: 办公室主任, ack_within: 30m}", "{notify: 办公室主任}")
    errors = errors_of(make_config(rules=rules))
    assert errors == [f"{tmp_path / 'rules.yaml'}:9:5: 第2级需要 ack_within，否则升级链到此为止，"
                      "后面的级别永远不会被通知"]


@pytest.mark.parametrize("pack", sorted((REPO / "rules").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_rule_packs_are_valid(pack):
    """Every rule pack under rules/ loads with the standard duty roles."""
    from yuqingd.rules.loader import load_rules

    ruleset = load_rules([pack], {"值班员", "带班领导", "办公室主任", "组长"})
    assert ruleset.rules


def test_cli_lang_after_the_subcommand_switches_to_english(tmp_path):
    """`yuqingd check --config X --lang en` is English, as `yuqingd --lang en check` is."""
    path = tmp_path / "nope.yaml"
    for argv in (("check", "--config", str(path), "--lang", "en"),
                 ("--lang", "en", "check", "--config", str(path)),
                 ("check", "--lang=en", "--config", str(path))):
        result = run_cli(*argv)
        assert result.returncode == 78, result.stderr
        assert result.stderr.startswith(f"yuqingd: config file {path} not found"), result.stderr


def test_cli_status_uses_the_words_of_incidents(monkeypatch, capsys):
    """`yuqingd status` lists an incident as 待确认 / 第3级, as `yuqingd incidents` does."""
    from yuqingd import cli

    reply = {"status": "信息源 1/1 正常", "incidents": [
        {"id": "20261203-001", "status": "open", "level": 3, "severity": "较大",
         "rule": "negative-burst", "key": "六处学校", "opened_at": "2026-12-03T10:02:00+08:00"}]}
    monkeypatch.setattr(cli, "_control", lambda args, request: (0, reply))
    assert cli.main(["status", "--socket", "/nonexistent.sock"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.split("\t")[:3] == ["20261203-001", "待确认", "第3级"]


def test_fallback_after_needs_a_second_channel_and_a_duration(make_config):
    """``fallback_after`` on a person with one channel, or not a duration, is reported at
    its place in Chinese; with two channels it loads."""
    config = CONFIG.replace("张明, channels: [duty-phone]}}",
                            "张明, channels: [duty-phone], fallback_after: 15m}}").replace(
        "李华, channels: [duty-phone]}}", "李华, channels: [duty-phone, duty-phone], "
        "fallback_after: 15m}}").replace(
        "王强, channels: [duty-phone]}}", "王强, channels: [duty-phone], fallback_after: soon}}")
    path = make_config(config)
    assert errors_of(path) == [
        f"{path}:10:61: fallback_after 需要至少两个渠道（channels 按顺序列出首选和备用渠道）",
        f"{path}:11:75: 有 fallback_after 时 channels 中的渠道不能重复",
        f"{path}:12:60: 时长格式错误: 'soon'（示例: 30s, 15m, 1h30m, 2d）"]
    ok = CONFIG.replace("notifiers:\n", "notifiers:\n  - {{name: mail, kind: capture}}\n")
    ok = ok.replace("张明, channels: [duty-phone]}}",
                    "张明, channels: [duty-phone, mail], fallback_after: 15m}}")
    config_ok = load_config(make_config(ok), Plugins(get_plugin_manager(extra=(Harness(),))))
    assert config_ok.roles["值班员"].fallback_after == 900.0


def test_notifier_rate_limit_is_validated_and_located(make_config):
    """``rate_limit`` on a notifier entry is the core's: ``20/min`` loads, a wrong one is
    reported at its place in Chinese, and the kind's own options stay strict."""
    bad = CONFIG.replace("{{name: duty-phone, kind: capture}}",
                         "{{name: duty-phone, kind: capture, rate_limit: 20 per minute}}")
    path = make_config(bad)
    assert errors_of(path) == [
        f"{path}:8:51: 速率应写作 次数/时间单位（如 20/min、1/s、100/h），不是 '20 per minute'"]
    good = CONFIG.replace("{{name: duty-phone, kind: capture}}",
                          "{{name: duty-phone, kind: capture, rate_limit: 20/min}}")
    config = load_config(make_config(good), Plugins(get_plugin_manager(extra=(Harness(),))))
    assert (config.notifiers[0].rate.count, config.notifiers[0].rate.per) == (20, 60.0)


def test_a_misspelt_notifiers_key_is_one_error_not_one_per_channel_reference(tmp_path):
    """The demo's duty people each name channels; with `notifiers:` misspelt, the unknown key
    is the one error — not a follow-on 'undefined channel' for every reference to it."""
    demo = (REPO / "etc/demo/yuqingd.yaml").read_text(encoding="utf-8")
    path = tmp_path / "yuqingd.yaml"
    path.write_text(demo.replace("../../", f"{REPO}/").replace("\nnotifiers:", "\nnotifers:"),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, Plugins(get_plugin_manager()))
    assert [e.message for e in caught.value.errors] == [
        "未知字段 'notifers'（是否想写 'notifiers'？）"]
