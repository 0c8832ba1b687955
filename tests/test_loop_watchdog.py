"""A plugin that blocks the event loop: the watchdog notices, names it, stops the systemd pings;
after the restart it is quarantined (no restart loop) until `yuqingd plugins enable`."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

from .service.configs import write_setup
from .service.process import REPO, DaemonProcess, wait_until
from .test_plugin_isolation import env_with, installed

SLEEPY = """\
import time

import trio
from pydantic import BaseModel, ConfigDict

from yuqingd import hookimpl
from yuqingd.sources import SourceKind


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sleepy:
    def __init__(self, spec):
        pass

    async def run(self, ctx):
        ctx.heartbeat()
        await trio.sleep(1)
        time.sleep(3600)  # a plugin's bug: it blocks the whole event loop


@hookimpl
def yuqingd_source_kinds():
    return [SourceKind("sleepy", Options, Sleepy)]
"""


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO)


def blocked_events(daemon):
    return [e for e in daemon.log_events() if e.get("event") == "watchdog.loop_blocked"]


def test_blocking_plugin_is_reported_quarantined_after_restart_and_enabled_again(
        tmp_path, short_dir):
    site = installed(tmp_path / "site", "sleepy", SLEEPY)
    env = env_with(site)
    config = write_setup(tmp_path, short_dir / "control.sock", speed=1)
    text = config.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  - {name: 卡住的源, kind: sleepy}\n")
    config.write_text(text + "watchdog: 3s\n", encoding="utf-8")
    quarantine_file = tmp_path / "state" / "quarantine.json"
    daemon_env = {"PYTHONPATH": env["PYTHONPATH"], "WATCHDOG_USEC": "400000"}

    # 1. The plugin blocks: the watchdog logs the stack naming it and stops the pings.
    first = DaemonProcess(config, short_dir, env=daemon_env)
    try:
        first.start()
        first.wait_message("READY=1")
        first.wait_message("WATCHDOG=trigger", timeout=30)
        assert not any(m == "WATCHDOG=1" for m in first.messages[-1:])
        (event,) = blocked_events(first)
        assert event["plugin"] == "sleepy" and event["blocked_for"] >= 3
        assert "yuqingd_sleepy" in event["stack"] and "in run" in event["stack"]
        assert event["stack"].startswith("Stack of the event loop thread")
        entry = json.loads(quarantine_file.read_text(encoding="utf-8"))["plugins"]["sleepy"]
        assert "yuqingd_sleepy" in entry["where"]
        assert stat.S_IMODE(os.stat(quarantine_file).st_mode) == 0o600
        # SIGTERM still drains: the plugin is interrupted where it blocks.
        first.signal(signal.SIGTERM)
        assert first.wait_exit(timeout=30) == 0, first.log()[-4000:]
        events = {e.get("event") for e in first.log_events()}
        assert {"watchdog.interrupting_plugin", "daemon.stopped"} <= events
    finally:
        first.close()

    # 2. The restart runs everything but the quarantined plugin, and says so; no new block.
    second = DaemonProcess(config, short_dir, env=daemon_env)
    try:
        second.start()
        ready = second.wait_message("READY=1")
        assert "插件已隔离" in ready and "sleepy" in ready
        alerts = tmp_path / "alerts.jsonl"
        wait_until(lambda: alerts.exists() and "incident.opened" in alerts.read_text(),
                   what="the other source still feeding incidents")
        started = time.monotonic()
        while time.monotonic() - started < 5:  # longer than `watchdog: 3s`
            assert second.next_message(timeout=5) != "WATCHDOG=trigger"
        assert blocked_events(second) == []
        listed = cli(env, "plugins", "--config", str(config))
        sleepy = next(line for line in listed.stdout.splitlines() if line.startswith("sleepy\t"))
        assert "已隔离：曾阻塞事件循环" in sleepy and "yuqingd plugins enable sleepy" in sleepy

        # 3. `enable` goes through the running daemon, which runs the plugin again at once.
        enabled = cli(env, "plugins", "enable", "sleepy", "--config", str(config))
        assert enabled.returncode == 0, enabled.stderr
        assert "运行中的服务已启用它" in enabled.stdout
        second.wait_message("WATCHDOG=trigger", timeout=30)  # …and it blocks again
        assert blocked_events(second)[0]["plugin"] == "sleepy"
    finally:
        second.close()  # kill -9

    # 4. With the daemon down, `enable` edits the file for the next start.
    assert "sleepy" in json.loads(quarantine_file.read_text(encoding="utf-8"))["plugins"]
    enabled = cli(env, "plugins", "enable", "sleepy", "--config", str(config))
    assert enabled.returncode == 0 and "下次启动时生效" in enabled.stdout
    assert json.loads(quarantine_file.read_text(encoding="utf-8"))["plugins"] == {}


BLOCKS = """        time.sleep(3600)  # a plugin's bug: it blocks the whole event loop"""
STUBBORN = SLEEPY.replace(BLOCKS, """        open(__file__ + ".blocking", "w").close()
        while True:  # blocks the loop and swallows every exception
            try:
                time.sleep(3600)
            except Exception:
                pass""").replace('SourceKind("sleepy"', 'SourceKind("stubborn"')


def test_sigterm_with_a_plugin_that_will_not_let_go_exits_70_after_the_grace(
        tmp_path, short_dir):
    """A plugin that swallows the interruption keeps the loop blocked: shutdown_grace after
    SIGTERM the daemon logs the stack and exits 70 (like kill -9, nothing committed is lost)."""
    site = installed(tmp_path / "site", "stubborn", STUBBORN)
    config = write_setup(tmp_path, short_dir / "control.sock", grace="1s")
    text = config.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  - {name: 不放手, kind: stubborn}\n")
    config.write_text(text, encoding="utf-8")
    daemon = DaemonProcess(config, short_dir, env={"PYTHONPATH": env_with(site)["PYTHONPATH"]})
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        marker = site / "yuqingd_stubborn" / "__init__.py.blocking"
        wait_until(marker.exists, what="the plugin blocking the loop")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(timeout=30) == 70
        (gave_up,) = [e for e in daemon.log_events() if e.get("event") == "daemon.stop_blocked"]
        assert "yuqingd_stubborn" in gave_up["stack"]
    finally:
        daemon.close()
