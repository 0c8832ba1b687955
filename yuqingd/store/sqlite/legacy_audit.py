"""Migration 9: audit notes written as prose (schema 1-8) become fields.

Up to schema 8 the daemon wrote its audit notes as text (``level 1 → 2; late by 1200s``,
``确认后 7200s 内无新信息，自动关闭``) and reports parsed them back. From 9 on an entry is an action
plus fields (:mod:`yuqingd.runtime.audit`); this step reads each old note once, with the patterns
of the code that wrote it, so a database already in service keeps its history readable. A note
that matches no pattern (a person's own) is kept as the ``note`` field. Frozen like every
shipped migration: never edit it, add a new step.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from yuqingd.time.durations import parse_duration

_OVERDUE = re.compile(r"^level (\d+) → (\d+); (\w+) overdue$")
_LATE = re.compile(r"^level (\d+) → (\d+); late by (\d+(?:\.\d+)?)s$")
_LEVEL = re.compile(r"^level (\d+)$")
_REPEATS_DONE = re.compile(r"^level (\d+): reminded (\d+) times$")
_OPENED = re.compile(r"^rule=(\S+)(?: key=(.*))?$", re.S)
_DOWNGRADED = re.compile(r"^(\S+) → (\S+)：([\d.smhdw]+) 内无新信息$")
_QUIET_CLOSED = re.compile(r"^确认后 ([\d.e+]+)s 内无新信息，自动关闭$")
_MISSED = re.compile(r"^第(\d+)级 (\S+) (.*) 未在时限内\S+?"
                     r"(（该级通知已被静默，未送达，不计入问责）)?$", re.S)
_SILENCED = re.compile(r"^(\S+) silence=(\d+)$")
_SILENCE_ADDED = re.compile(r"^silence=(\d+) (\w+)=(.*) until=(\S+) reason=(.*)$", re.S)
_SILENCE_REMOVED = re.compile(r"^silence=(\d+)$")
_WATCH = re.compile(r"^watch=(\d+) (.*)$", re.S)

SILENCED_WHO = "（通知已静默）"  # how schema 8 marked a miss nobody was told of, in ``who``


def fields_of(action: str, note: str) -> dict[str, Any]:
    """The fields an old ``action`` + ``note`` stand for."""
    if action == "escalated" and (m := _OVERDUE.match(note)):
        return {"from_level": int(m[1]), "level": int(m[2]), "overdue": m[3]}
    if action == "escalated" and (m := _LATE.match(note)):
        return {"from_level": int(m[1]), "level": int(m[2]), "late_seconds": float(m[3])}
    if action == "repeated" and (m := _LEVEL.match(note)):
        return {"level": int(m[1])}
    if action == "repeats.done" and (m := _REPEATS_DONE.match(note)):
        return {"level": int(m[1]), "times": int(m[2])}
    if action == "opened" and (m := _OPENED.match(note)):
        return {"rule": m[1], "key": m[2] or ""}
    if action == "downgraded" and (m := _DOWNGRADED.match(note)):
        try:
            return {"previous": m[1], "severity": m[2], "quiet": parse_duration(m[3])}
        except ValueError:
            return {"note": note}
    if action == "closed" and (m := _QUIET_CLOSED.match(note)):
        return {"quiet": float(m[1])}
    if action.startswith("missed.") and (m := _MISSED.match(note)):
        return {"what": action.removeprefix("missed."), "level": int(m[1]), "role": m[2],
                "who": m[3], **({"silenced": True} if m[4] else {})}
    if action == "notification.silenced" and (m := _SILENCED.match(note)):
        fields: dict[str, Any] = {"id": m[1], "silence": int(m[2])}
        parts = m[1].split(":")
        if len(parts) == 5 and parts[2].startswith("L") and parts[2][1:].isdigit():
            fields.update(kind=parts[1], level=int(parts[2][1:]), channel=parts[4])
        return fields
    if action == "silence.added" and (m := _SILENCE_ADDED.match(note)):
        return {"silence": int(m[1]), "scope": m[2], "target": m[3], "until": m[4],
                "reason": m[5]}
    if action == "silence.removed" and (m := _SILENCE_REMOVED.match(note)):
        return {"silence": int(m[1])}
    if action == "watch.started" and (m := _WATCH.match(note)):
        kind, _, key = m[2].partition("=")
        return {"watch": int(m[1]), "kind": kind, "key": key}
    if action == "watch.ended" and (m := _WATCH.match(note)):
        return {"watch": int(m[1])}  # the reason said who stopped it: that is the actor
    return {"note": note} if note else {}


def migrate(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE audit ADD COLUMN fields TEXT NOT NULL DEFAULT '{}'")
    rows = db.execute("SELECT id, action, note FROM audit").fetchall()
    for audit_id, action, note in rows:
        fields = fields_of(action, note)
        if fields:
            db.execute("UPDATE audit SET fields=? WHERE id=?",
                       (json.dumps(fields, ensure_ascii=False), audit_id))
    db.execute("ALTER TABLE audit DROP COLUMN note")
    # Why a missed deadline is not held against the person who held it, once written into
    # ``who`` as a Chinese annotation.
    db.execute("ALTER TABLE deadlines ADD COLUMN excused TEXT")
    db.execute("UPDATE deadlines SET who=substr(who, 1, length(who) - ?), excused='silenced' "
               "WHERE who LIKE ?", (len(SILENCED_WHO), f"%{SILENCED_WHO}"))
