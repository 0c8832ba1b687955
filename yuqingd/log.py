"""structlog set-up: console on a TTY, JSON lines otherwise, journald fields under systemd."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from yuqingd.time.clock import wall_time

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_JOURNAL_PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}


def stderr_is_journal() -> bool:
    """True when systemd connected stderr to the journal (JOURNAL_STREAM names its dev:ino)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    if ":" not in stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def choose_format(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    if stderr_is_journal():
        return "journal"
    return "console" if sys.stderr.isatty() else "json"


class JournalRenderer:
    """Send each event to journald with its fields as upper-case journal fields."""

    def __init__(self) -> None:
        from systemd import journal

        self._send = journal.send

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> str:
        message = event.pop("event", "")
        level = event.pop("level", method)
        fields = {
            f"YUQINGD_{k.upper()}": v if isinstance(v, str) else repr(v)
            for k, v in event.items()
            if k != "timestamp"
        }
        text = " ".join(f"{k}={v}" for k, v in event.items() if k != "timestamp")
        self._send(
            f"{message} {text}".strip(),
            PRIORITY=str(_JOURNAL_PRIORITY.get(level, 6)),
            SYSLOG_IDENTIFIER="yuqingd",
            YUQINGD_EVENT=message,
            **fields,
        )
        raise structlog.DropEvent


class ZonedTimeStamper:
    """``timestamp`` in the configured zone with its offset (2026-05-10T14:30:00.123+08:00):
    the console lines beside alerts that give their times in +08:00 read the same way."""

    def __init__(self, timezone: str):
        self.tz = ZoneInfo(timezone)

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        moment = dt.datetime.fromtimestamp(wall_time(), tz=self.tz)
        event_dict["timestamp"] = moment.isoformat(timespec="milliseconds")
        return event_dict


def configure_logging(fmt: str = "auto", level: str = "info",
                      timezone: str | None = None) -> str:
    """Configure structlog (and bridge stdlib loggers such as httpx); returns the format used.
    Times are in ``timezone`` (the config's), UTC until a config has been read."""
    fmt = choose_format(fmt)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        ZonedTimeStamper(timezone) if timezone else
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "journal":
        renderer: Any = JournalRenderer()
    elif fmt == "console":
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer]
        if fmt != "console"
        else [*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ]
            if fmt != "console"
            else [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # httpx logs every request at INFO
    return fmt
