"""A plugin that fails (its import, or a hook) is disabled and reported; nothing else stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from yuqingd import hookimpl
from yuqingd.plugins import Plugins, get_plugin_manager

from .service.configs import write_setup
from .service.process import REPO, DaemonProcess

IMPORT_FAILS = "import yuqingd_missing_dependency  # noqa\n"
KINDS_RAISE = """\
from yuqingd import hookimpl

@hookimpl
def yuqingd_source_kinds():
    raise RuntimeError("kinds exploded")
"""


def installed(site: Path, name: str, code: str) -> Path:
    """``site`` with a distribution yuqingd-NAME whose entry point (group yuqingd) is NAME."""
    package = site / f"yuqingd_{name}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(code, encoding="utf-8")
    info = site / f"yuqingd_{name}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: yuqingd-{name}\nVersion: 0.3\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[yuqingd]\n{name} = yuqingd_{name}\n", encoding="utf-8")
    return site


def env_with(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQINGD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO)


def test_plugin_whose_import_fails_is_listed_with_its_error_and_check_warns(tmp_path, short_dir):
    """`yuqingd plugins` lists the broken plugin with its ImportError; `check` of a config that
    does not use it passes with a warning; neither prints a traceback."""
    env = env_with(installed(tmp_path / "site", "weibo", IMPORT_FAILS))
    listed = cli(env, "plugins")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()}
    assert lines["replay"][2] == "source:replay"  # the others are all there
    assert lines["weibo"][1] == "0.3"
    assert "无法加载，已停用" in lines["weibo"][3]
    assert "ModuleNotFoundError" in lines["weibo"][3] and "yuqingd_missing_dependency" in \
        lines["weibo"][3]

    config = write_setup(tmp_path, short_dir / "control.sock")
    checked = cli(env, "check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "配置正确" in checked.stdout
    assert "警告：插件 'weibo'" in checked.stderr and "ModuleNotFoundError" in checked.stderr
    assert "Traceback" not in listed.stderr + checked.stderr


def test_config_using_a_broken_plugin_is_an_error_at_the_line_naming_it(tmp_path, short_dir):
    """A source of the broken plugin's kind: exit 78, located at its `kind`, naming the plugin
    and why it is disabled."""
    env = env_with(installed(tmp_path / "site", "weibo", IMPORT_FAILS))
    config = write_setup(tmp_path, short_dir / "control.sock")
    text = config.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  - {name: 微博, kind: weibo}\n")
    config.write_text(text, encoding="utf-8")
    line = text.splitlines().index("  - {name: 微博, kind: weibo}") + 1
    checked = cli(env, "check", "--config", str(config))
    assert checked.returncode == 78
    assert checked.stderr.startswith(f"{config}:{line}:")
    assert "未知类型 'weibo'" in checked.stderr
    assert "插件 'weibo' 无法加载，已停用：ModuleNotFoundError" in checked.stderr
    assert "Traceback" not in checked.stderr
    run = cli(env, "run", "--config", str(config))
    assert run.returncode == 78 and f"{config}:{line}:" in run.stderr


def test_plugin_whose_kinds_hook_raises_is_disabled_and_the_daemon_runs(tmp_path, short_dir):
    """A kinds hook that raises disables that plugin only: `plugins` shows why, and the daemon
    starts, says so in its log and STATUS, and stops cleanly."""
    env = env_with(installed(tmp_path / "site", "flaky", KINDS_RAISE))
    listed = cli(env, "plugins")
    assert listed.returncode == 0, listed.stderr
    flaky = next(line for line in listed.stdout.splitlines() if line.startswith("flaky\t"))
    assert "yuqingd_source_kinds 出错，已停用：RuntimeError: kinds exploded" in flaky

    config = write_setup(tmp_path, short_dir / "control.sock")
    daemon = DaemonProcess(config, short_dir, env={"PYTHONPATH": env["PYTHONPATH"]})
    try:
        daemon.start()
        ready = daemon.wait_message("READY=1")
        assert "插件已停用：flaky" in ready
        disabled = [e for e in daemon.log_events() if e.get("event") == "plugin.disabled"]
        assert disabled and disabled[0]["plugin"] == "flaky"
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()
    assert "Traceback" not in daemon.log()


class _Enriches:
    @hookimpl
    def yuqingd_source_kinds(self):
        return []

    @hookimpl
    def yuqingd_enrichers(self):
        return [object()]


class _BadReturn:
    @hookimpl
    def yuqingd_notifier_kinds(self):
        return ["not a kind"]


def test_plugins_facade_disables_a_plugin_whose_hook_returns_garbage_or_raises():
    """A hook returning what its spec does not allow disables its plugin, whole; the built-ins
    are unaffected."""

    class Raises:
        @hookimpl
        def yuqingd_enrichers(self):
            raise ValueError("no lexicon")

        @hookimpl
        def yuqingd_source_kinds(self):
            from yuqingd.testing import Harness

            return Harness().yuqingd_source_kinds()  # would offer `scripted`

    plugins = Plugins(get_plugin_manager(extra=(_BadReturn(), Raises())))
    broken = {b.stage: b for b in plugins.broken.values()}
    assert "TypeError" in broken["yuqingd_notifier_kinds"].error
    assert broken["yuqingd_enrichers"].error == "ValueError: no lexicon"
    assert "scripted" not in plugins.source_kinds()  # the raising plugin offers nothing
    assert {"replay", "rss"} <= set(plugins.source_kinds())
    assert {"console", "jsonl"} <= set(plugins.notifier_kinds())
    assert plugins.enrichers() == [] or all(n != "Raises" for n, _ in plugins.enrichers())
