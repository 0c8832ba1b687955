"""Every rule example in docs/rule-language.md loads (or fails as the doc says it does), and
the tests written in those examples pass."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from yuqingd.config import ConfigFile
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.rule_tests import report, run_rule_tests, standalone_config
from yuqingd.rules.loader import load_rules

from .conftest import REPO

ROLES = {"值班员", "办公室主任", "组长"}
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```",
                    (REPO / "docs/rule-language.md").read_text(encoding="utf-8"),
                    flags=re.S | re.M)


def test_docs_rule_language_examples_hold(tmp_path):
    """Each YAML example (with the file it builds on) loads; '✗' examples fail; tests pass."""
    plugins = Plugins(get_plugin_manager())
    files: dict[str, object] = {}
    checked = 0
    for n, (lang, body) in enumerate(BLOCKS, 1):
        first = body.splitlines()[0] if body else ""
        if lang == "json":
            json.loads(body)
            continue
        if lang != "yaml":
            continue
        named = re.match(r"#\s*(\S+\.yaml)", first)
        name = named.group(1) if named else f"block{n}.yaml"
        path = tmp_path / (name if "/" not in name else f"block{n}-config.yaml")
        path.write_text(body, encoding="utf-8")
        files[name] = path
        if "yuqingd.yaml" in first:
            ConfigFile.model_validate(yaml.safe_load(body))
            continue
        deps = [files["base.yaml"]] if "假定 base.yaml 已加载" in first else []
        if after := re.search(r"排在 (\S+\.yaml) 之后", first):
            deps = [files[after.group(1)]]
        paths = [*deps, path]
        if first.startswith("# ✗"):
            with pytest.raises(ConfigError):
                load_rules(paths, ROLES)
            checked += 1
            continue
        ruleset = load_rules(paths, ROLES)
        if ruleset.tests:
            config, temp = standalone_config(paths, plugins)
            with temp:
                outcomes = run_rule_tests(config, plugins)
            assert all(o.passed for o in outcomes), f"block {n} ({name}):\n{report(outcomes)}"
        checked += 1
    assert checked >= 20


README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_apt_get_install_follows_apt_get_update():
    """Every `apt-get install` in the README comes after an `apt-get update` (fresh roots)."""
    for match in re.finditer(r"apt-get install", README):
        assert "apt-get update" in README[:match.start()], README[match.start() - 80:match.end()]


def test_readme_demo_ack_is_the_alerts_command_as_printed():
    """The demo's ack step makes `yuqingd` and the demo config reachable, so the alert's
    `yuqingd ack ID --by NAME` works pasted as shown; no fixed (yesterday's) incident id."""
    demo = README.split("## Set-up", 1)[1].split("## Commands", 1)[0]
    assert "20261126-001" not in demo
    assert 'export PATH="$PWD/.venv/bin:$PATH" YUQINGD_CONFIG="$PWD/etc/demo/yuqingd.yaml"' in demo
    assert "yuqingd incidents" in demo
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert 'export PATH="$$PWD/.venv/bin:$$PATH" YUQINGD_CONFIG="$$PWD/etc/demo/yuqingd.yaml"' \
        in makefile
