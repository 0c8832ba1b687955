"""kill -9 at any moment loses nothing and repeats nothing a user can see."""

from __future__ import annotations

import json
import signal
import sqlite3

from .service.configs import write_setup
from .service.process import DaemonProcess, query, wait_until


def alert_lines(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_crash_kill9_repeatedly_no_duplicate_items_incidents_or_alerts(tmp_path, short_dir):
    """Killed with SIGKILL four times mid-stream, the daemon ends with each post stored once,
    one incident per school and each alert written once."""
    config = write_setup(tmp_path, short_dir / "control.sock", speed=20, posts_per_school=8)
    db = tmp_path / "state" / "yuqingd.sqlite3"
    alerts = tmp_path / "alerts.jsonl"

    def items() -> int:
        return query(db, "SELECT count(*) FROM items")[0][0] if db.exists() else 0

    for stored_before_kill in (2, 5, 7, 11):
        daemon = DaemonProcess(config, short_dir)
        try:
            daemon.start()
            daemon.wait_message("READY=1")
            wait_until(lambda n=stored_before_kill: items() >= n, what=f"{stored_before_kill}")
            daemon.kill9()
        finally:
            daemon.close()

    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wait_until(lambda: items() == 16, what="all 16 posts")
        wait_until(lambda: len(alert_lines(alerts)) >= 2, what="both incident alerts")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()

    assert query(db, "SELECT count(*), count(DISTINCT source || item_id) FROM items") == [(16, 16)]
    incidents = query(db, "SELECT group_key FROM incidents ORDER BY group_key")
    assert incidents == [("六处学校",), ("城关第二中学",)]
    per_incident = query(db, "SELECT count(*) FROM incident_items GROUP BY incident_id")
    assert sorted(per_incident) == [(8,), (8,)]
    lines = alert_lines(alerts)
    assert [line["kind"] for line in lines] == ["incident.opened", "incident.opened"]
    assert len({line["id"] for line in lines}) == len(lines)


def test_crash_deadline_due_while_down_fires_right_after_start(tmp_path, short_dir):
    """An acknowledgement deadline that passed while the daemon was killed escalates at start."""
    config = write_setup(tmp_path, short_dir / "control.sock", ack_within="1h")
    db = tmp_path / "state" / "yuqingd.sqlite3"
    alerts = tmp_path / "alerts.jsonl"
    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wait_until(lambda: len(alert_lines(alerts)) == 2, what="two incidents")
        daemon.kill9()
    finally:
        daemon.close()
    assert query(db, "SELECT count(*) FROM deadlines WHERE state='pending'") == [(2,)]
    # Two hours pass while the daemon is down: move the deadlines into the past.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE deadlines SET due_at = due_at - 7200")

    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        wait_until(lambda: len(alert_lines(alerts)) == 4, what="two escalations", timeout=10)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
        escalated = [e for e in daemon.log_events() if e.get("event") == "incident.escalated"]
    finally:
        daemon.close()
    kinds = [(line["kind"], line["level"]) for line in alert_lines(alerts)]
    assert kinds == [("incident.opened", 1)] * 2 + [("incident.escalated", 2)] * 2
    assert all(3600 <= e["late_seconds"] < 3700 for e in escalated)
    assert query(db, "SELECT count(*) FROM deadlines WHERE state='pending'") == [(2,)]  # level 2


def test_crash_delivered_notifications_are_not_sent_again_after_kill9(tmp_path, short_dir):
    """A channel that keeps no record of its own (no dedupe) is not sent, after a kill -9 and
    restart, anything the outbox had marked delivered."""
    sends = tmp_path / "sends.log"
    config = write_setup(tmp_path, short_dir / "control.sock", slow=f"delay: 0, log: '{sends}'")
    db = tmp_path / "state" / "yuqingd.sqlite3"
    for _ in range(2):
        daemon = DaemonProcess(config, short_dir)
        try:
            daemon.start()
            daemon.wait_message("READY=1")
            wait_until(lambda: query(db, "SELECT count(*) FROM outbox WHERE channel='slow' "
                                         "AND delivered_at IS NOT NULL") == [(2,)],
                       what="both notifications delivered")
            daemon.kill9()
        finally:
            daemon.close()
    lines = sends.read_text(encoding="utf-8").split()
    assert len(lines) == 2 and len(set(lines)) == 2
