"""Plugins: entry points, blocking, the hook façade, documentation of every hook."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

from yuqingd import hookspecs
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness

BUILT_INS = {"replay": ("replay",), "rss": ("rss",), "console": (), "jsonl": ()}


def test_plugins_builtins_register_through_entry_points():
    """The built-in sources and notifiers are found through the `yuqingd` entry-point group."""
    infos = {i.name: i for i in Plugins(get_plugin_manager()).describe()}
    assert set(BUILT_INS) <= set(infos)
    assert infos["replay"].source_kinds == ("replay",)
    assert infos["rss"].source_kinds == ("rss",)
    assert infos["console"].notifier_kinds == ("console",)
    assert infos["jsonl"].notifier_kinds == ("jsonl",)
    assert all(i.version not in ("", "?") for i in infos.values())


def test_plugins_can_be_blocked_by_name(monkeypatch):
    """$YUQINGD_DISABLED_PLUGINS keeps a plugin from loading."""
    monkeypatch.setenv("YUQINGD_DISABLED_PLUGINS", "rss, console")
    plugins = Plugins(get_plugin_manager())
    assert "rss" not in plugins.source_kinds()
    assert "console" not in plugins.notifier_kinds()
    assert "replay" in plugins.source_kinds()


def test_cli_plugins_lists_names_versions_and_kinds():
    """`yuqingd plugins` prints one line per plugin: name, version, kinds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQINGD_")}
    out = subprocess.run([sys.executable, "-m", "yuqingd", "plugins"], capture_output=True,
                         text=True, check=True, env=env).stdout
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert lines["replay"][2] == "source:replay"
    assert lines["jsonl"][2] == "notifier:jsonl"


def test_every_hook_is_documented_and_implemented_by_a_builtin():
    """Each hookspec has a docstring saying when it is called, and a built-in implements it."""
    pm = get_plugin_manager()
    specs = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("yuqingd_")]
    assert specs
    for name in specs:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc, f"{name} does not say when it is called"
        assert getattr(pm.hook, name).get_hookimpls(), f"no built-in implements {name}"


def test_plugin_author_fixture_is_available(yuqingd_harness):
    """The `yuqingd_harness` fixture reaches any project that installs yuqingd (pytest11)."""
    assert isinstance(yuqingd_harness, Harness)
    yuqingd_harness.post("1", "标题")
    assert yuqingd_harness._receive.receive_nowait().title == "标题"
