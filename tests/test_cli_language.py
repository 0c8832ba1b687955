"""The command line speaks Chinese by default, English with --lang en: every subcommand's
--help, argparse's own errors, and every help text has its Chinese in yuqingd.cli_zh."""

from __future__ import annotations

import argparse
import re

import pytest

from yuqingd import cli, cli_zh
from yuqingd.located import LANGUAGE_ENV

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def no_language_from_the_environment(monkeypatch):
    for name in ("LANG", "LC_ALL"):
        monkeypatch.delenv(name, raising=False)
    # Set (not deleted), so that what `--lang en` writes into the environment is undone after.
    monkeypatch.setenv(LANGUAGE_ENV, "zh")
    yield
    cli_zh.use_argparse_language(english=True)  # as Python has it, for the other tests


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from subcommands(sub, (*prefix, name))


COMMANDS = [(), *subcommands(cli._english_parser())]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_every_help_text_has_its_chinese_and_the_table_has_no_stale_entry():
    written = cli_zh.help_texts(cli._english_parser())
    assert [text for text in written if text not in cli_zh.HELP_ZH] == []
    assert [text for text in cli_zh.HELP_ZH if text not in written] == []
    assert [zh for zh in cli_zh.HELP_ZH.values() if not CJK.search(zh)] == []


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "yuqingd")
def test_help_is_chinese_by_default_and_english_with_lang_en(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert out.startswith("用法: yuqingd") and "显示本帮助并退出" in out
    shown = set(re.findall(r"[^\s（）]+", out))
    english_words = {w for w in ("the", "of", "and", "for", "or") if w in shown}
    assert english_words == set(), out

    code, out, _ = run(capsys, *command, "--help", "--lang", "en")
    assert code == 0
    assert out.startswith("usage: yuqingd") and "show this help message and exit" in out
    assert "用法" not in out and "显示本帮助" not in out


def test_a_subcommands_own_help_says_what_it_does(capsys):
    _, out, _ = run(capsys, "ack", "--help")
    assert "确认事件（停止升级）" in out and "确认人（姓名）" in out
    _, out, _ = run(capsys, "--lang", "en", "ack", "--help")
    assert "acknowledge an incident (stops escalation)" in out


def test_argparse_errors_are_chinese_and_english_with_lang_en(capsys):
    code, _, err = run(capsys, "explain")
    assert code == 2 and "yuqingd explain: 错误: 缺少必需的参数: --item" in err
    code, _, err = run(capsys, "schema", "rule")
    # Python 3.12 quotes the choices, 3.13 does not: the Chinese words are the point here.
    assert code == 2 and "参数 what: 无效的选项值 'rule'（可选: " in err and "config" in err
    code, _, err = run(capsys, "status", "--verbose")
    assert code == 2 and "无法识别的参数: --verbose" in err

    code, _, err = run(capsys, "explain", "--lang", "en")
    assert code == 2 and "error: the following arguments are required: --item" in err
