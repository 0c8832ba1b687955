"""The daemon as systemd runs it: sd_notify on a real datagram socket, SIGHUP, SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from yuqingd.control import request
from yuqingd.systemd import SystemdNotifier

from .service.configs import RULES, write_setup
from .service.process import DaemonProcess, query, wait_until


@pytest.fixture
def daemon_factory(tmp_path, short_dir):
    made = []

    def make(env=None, **setup) -> DaemonProcess:
        config = write_setup(tmp_path, short_dir / "control.sock", **setup)
        daemon = DaemonProcess(config, short_dir, env=env)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.close()


def test_systemd_notifier_is_silent_without_notify_socket(monkeypatch):
    """Without NOTIFY_SOCKET (not under systemd) nothing is sent and no watchdog runs."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = SystemdNotifier()
    assert not notifier.enabled
    assert notifier.watchdog_interval() is None


def test_service_ready_status_and_watchdog(daemon_factory, short_dir):
    """READY=1 comes once everything is up, with a readable STATUS; WATCHDOG=1 pings follow."""
    daemon = daemon_factory(env={"WATCHDOG_USEC": "400000"}).start()
    ready = daemon.wait_message("READY=1")
    assert (short_dir / "control.sock").exists()  # the control socket was up before READY
    status = next(line for line in ready.splitlines() if line.startswith("STATUS="))
    assert "信息源" in status and "未确认事件" in status
    pings = 0
    while pings < 3:
        pings += daemon.next_message(timeout=5) == "WATCHDOG=1"
    wait_until(lambda: any("未确认事件 2" in m for m in daemon.messages[-50:])
               or "未确认事件 2" in daemon.next_message(), what="STATUS with two open incidents")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


def test_service_reload_applies_good_rules_and_keeps_running_rules_on_bad(
        daemon_factory, tmp_path, short_dir):
    """SIGHUP: RELOADING=1 then READY=1; a bad file is rejected, rules stay, STATUS says why."""
    daemon = daemon_factory().start()
    daemon.wait_message("READY=1")
    sock = short_dir / "control.sock"
    assert request(sock, {"command": "status"})["rules"] == ["negative-burst"]

    rules = tmp_path / "rules.yaml"
    second_rule = """\
  - id: any-negative
    title: 负面信息
    match: {entity: any, sentiment: negative}
    threshold: {count: 1, within: 1h, per: entity}
    then:
      incident: {severity: 一般, chain: major}
"""
    rules.write_text(RULES % {"ack_within": "1h"} + second_rule, encoding="utf-8")
    daemon.signal(signal.SIGHUP)
    reloading = daemon.wait_message("RELOADING=1")
    assert "MONOTONIC_USEC=" in reloading
    ready = daemon.wait_message("READY=1")
    assert "重新加载失败" not in ready
    assert request(sock, {"command": "status"})["rules"] == ["negative-burst", "any-negative"]

    broken = rules.read_text(encoding="utf-8").replace("within: 1h, per", "within: 1小时, per")
    rules.write_text(broken, encoding="utf-8")
    daemon.signal(signal.SIGHUP)
    daemon.wait_message("RELOADING=1")
    ready = daemon.wait_message("READY=1")
    assert "重新加载失败，继续使用原配置：2 处错误" in ready
    assert request(sock, {"command": "status"})["rules"] == ["negative-burst", "any-negative"]
    errors = [e["error"] for e in daemon.log_events() if e.get("event") == "reload.config_error"]
    assert len(errors) == 2 and all(e.startswith(f"{rules}:") for e in errors)
    assert "时长格式错误: '1小时'" in errors[0]
    assert daemon.proc.poll() is None

    # `yuqingd reload` waits for the outcome and prints it, unlike an asynchronous SIGHUP.
    result = subprocess.run([sys.executable, "-m", "yuqingd", "reload", "--config",
                             str(tmp_path / "yuqingd.yaml")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 78
    assert result.stderr.startswith(f"{rules}:") and "重新加载失败" in result.stderr
    rules.write_text(RULES % {"ack_within": "1h"}, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "yuqingd", "reload", "--config",
                             str(tmp_path / "yuqingd.yaml")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "已重新加载" in result.stdout
    assert request(sock, {"command": "status"})["rules"] == ["negative-burst"]


def test_service_sigterm_drains_in_flight_notifications_and_exits_0(daemon_factory, tmp_path):
    """SIGTERM: STOPPING=1, notifications already due are still delivered, exit status 0."""
    daemon = daemon_factory(slow="delay: 0.5").start()
    daemon.wait_message("READY=1")
    alerts = tmp_path / "alerts.jsonl"
    opened = '"kind": "incident.opened"'
    wait_until(lambda: alerts.exists() and alerts.read_text().count(opened) == 2,
               what="both incidents on the fast channel")
    db = tmp_path / "state" / "yuqingd.sqlite3"
    assert query(db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0][0] >= 1
    daemon.signal(signal.SIGTERM)
    daemon.wait_message("STOPPING=1")
    assert daemon.wait_exit() == 0
    assert query(db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL") == [(0,)]
    stopped = [e for e in daemon.log_events() if e.get("event") == "daemon.stopped"]
    assert stopped and stopped[0]["drained"] is True


def test_service_sigterm_drain_is_bounded_by_grace(daemon_factory, tmp_path):
    """A notifier that never returns cannot hold shutdown past shutdown_grace; nothing is lost."""
    daemon = daemon_factory(slow="hang: true", grace="1s").start()
    daemon.wait_message("READY=1")
    alerts = tmp_path / "alerts.jsonl"
    wait_until(lambda: alerts.exists() and "incident.opened" in alerts.read_text(),
               what="an incident")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(timeout=15) == 0
    db = tmp_path / "state" / "yuqingd.sqlite3"
    undelivered = query(db, "SELECT channel FROM outbox WHERE delivered_at IS NULL")
    assert undelivered and {c for (c,) in undelivered} == {"slow"}  # kept for the next start
    stopped = [e for e in daemon.log_events() if e.get("event") == "daemon.stopped"]
    assert stopped and stopped[0]["drained"] is False


def test_service_unread_notify_socket_neither_freezes_nor_stops_the_drain(
        daemon_factory, tmp_path, short_dir):
    """A manager that never reads NOTIFY_SOCKET: STATUS updates are dropped once its queue is
    full, `status` still answers, SIGTERM drains and exits 0, and READY/STOPPING arrive in order
    once the socket is read again."""
    # A post every 0.2 s changes STATUS ("已处理 N 条") well past the queue's ten datagrams.
    daemon = daemon_factory(posts_per_school=40, gap_seconds=10, speed=50).start()
    # The test does not read daemon.notify until after SIGTERM.
    sock = short_dir / "control.sock"
    wait_until(lambda: any(e.get("event") == "systemd.notify_queue_full"
                           for e in daemon.log_events()), what="a full notify queue")
    for _ in range(5):
        started = time.monotonic()
        assert "信息源" in request(sock, {"command": "status"}, timeout=5)["status"]
        assert time.monotonic() - started < 2
    daemon.signal(signal.SIGTERM)
    messages = []
    while not any("STOPPING=1" in m for m in messages):
        messages.append(daemon.next_message(timeout=10))
    assert daemon.wait_exit() == 0
    assert "READY=1" in messages[0]
    assert sum("READY=1" in m for m in messages) == 1
    stopped = [e for e in daemon.log_events() if e.get("event") == "daemon.stopped"]
    assert stopped and stopped[0]["drained"] is True
    assert "Traceback" not in daemon.log()
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "yuqingd.sqlite3").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "alerts.jsonl").st_mode) & 0o037 == 0
