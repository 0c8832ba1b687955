"""The manual pages' sources cover what they claim: every subcommand in yuqingd(8), every config
section in yuqingd.yaml(5); and the pages render, Chinese included, where pandoc and man exist."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import unicodedata

import pytest

from yuqingd.cli import _parser
from yuqingd.config import ConfigFile
from yuqingd.runtime.roster import DutySpec

from .conftest import REPO

CLI_PAGE = (REPO / "docs" / "yuqingd.8.md").read_text(encoding="utf-8")
CONFIG_DOC = (REPO / "docs" / "config.md").read_text(encoding="utf-8")


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(prefix + name)
                found += subcommands(sub, prefix + name + " ")
    return found


def test_cli_page_describes_every_subcommand():
    described = set(re.findall(r"^\*\*yuqingd ([a-z -]+?)\*\*", CLI_PAGE, re.MULTILINE))
    described |= set(re.findall(r"\*\*yuqingd ([a-z-]+ [a-z-]+)\*\*", CLI_PAGE))
    missing = [c for c in subcommands(_parser())
               if c not in described and not any(d.startswith(c + " ") for d in described)]
    assert missing == []


def test_config_reference_has_a_section_for_every_config_key():
    headings = set(re.findall(r"^### `([a-z_]+)`", CONFIG_DOC, re.MULTILINE))
    assert set(ConfigFile.model_fields) - headings == set()


def test_config_reference_lists_every_duty_key():
    assert {k for k in DutySpec.model_fields if f"| `{k}` |" not in CONFIG_DOC} == set()


@pytest.mark.skipif(shutil.which("pandoc") is None or shutil.which("man") is None,
                    reason="needs pandoc and man-db (apt-get install pandoc man-db)")
def test_pages_render_with_chinese(tmp_path):
    subprocess.run([str(REPO / "packaging" / "man" / "build.sh"), str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    env = {**os.environ, "LANG": "C.UTF-8", "MANWIDTH": "80"}
    for page, expected in [("yuqingd.8", "确认事件"), ("yuqingd.yaml.5", "状态目录"),
                           ("yuqingd-rules.5", "升级链")]:
        shown = subprocess.run(["man", "-l", str(tmp_path / page)], capture_output=True,
                               text=True, env=env, timeout=60, check=True).stdout
        assert expected in shown, page
        if page != "yuqingd-rules.5":  # its long YAML examples are not wrapped, as in any page
            # Chinese paragraphs wrap (an unbreakable one would be hundreds of columns); tbl
            # miscounts CJK widths by a few columns, hence the margin.
            assert max(map(width, shown.splitlines())) <= 88, page
    assert "--config" in subprocess.run(["man", "-l", str(tmp_path / "yuqingd.8")], env=env,
                                        capture_output=True, text=True).stdout  # no en dash


def width(line: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
