"""Log output: journald under systemd, JSON lines to a file or pipe, console on a terminal."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import sys

import pytest
import structlog

from yuqingd.log import JournalRenderer, choose_format, configure_logging


def test_log_format_follows_where_stderr_goes(tmp_path, monkeypatch):
    """JOURNAL_STREAM naming stderr → journald; a file → JSON; a terminal → console."""
    with open(tmp_path / "err.log", "w") as err:
        monkeypatch.setattr(sys, "stderr", err)
        st = os.fstat(err.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert choose_format() == "journal"
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")  # inherited, stale
        assert choose_format() == "json"
        assert choose_format("console") == "console"
    monkeypatch.delenv("JOURNAL_STREAM")
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        assert choose_format() == "console"
    os.close(leader)


def test_log_journal_fields_are_greppable(monkeypatch):
    """Each event reaches journald with its name and fields as YUQINGD_* fields."""
    sent = []
    renderer = JournalRenderer()
    monkeypatch.setattr(renderer, "_send", lambda message, **fields: sent.append((message, fields)))
    with pytest.raises(structlog.DropEvent):  # sent to journald, not printed as well
        renderer(None, "warning", {"event": "incident.escalated", "level": "warning",
                                   "incident": "20260510-001", "late_seconds": 3.5,
                                   "timestamp": "…"})
    (message, fields), = sent
    assert message == "incident.escalated incident=20260510-001 late_seconds=3.5"
    assert fields["PRIORITY"] == "4" and fields["SYSLOG_IDENTIFIER"] == "yuqingd"
    assert fields["YUQINGD_EVENT"] == "incident.escalated"
    assert fields["YUQINGD_INCIDENT"] == "20260510-001" and fields["YUQINGD_LATE_SECONDS"] == "3.5"


def test_log_json_lines_keep_chinese_readable(tmp_path, monkeypatch, capsys):
    """JSON logs are one object per line with Chinese text unescaped, for grep."""
    configure_logging("json", "info")
    try:
        structlog.get_logger("t").info("item.stored", title="六处学校体罚")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert '"title": "六处学校体罚"' in line and '"event": "item.stored"' in line
    finally:
        structlog.reset_defaults()


def test_log_times_are_in_the_configured_zone(capsys):
    """Log lines give their time as the alerts beside them do: the config's zone, with offset."""
    configure_logging("json", "info", "Asia/Shanghai")
    try:
        structlog.get_logger("t").info("item.stored")
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["timestamp"].endswith("+08:00")
        assert dt.datetime.fromisoformat(line["timestamp"]).utcoffset() == dt.timedelta(hours=8)
    finally:
        structlog.reset_defaults()
