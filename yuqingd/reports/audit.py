"""Audit entries as people read them: each action and its fields said in Chinese.

The store keeps an action and its fields (:mod:`yuqingd.runtime.audit`); the wording happens
here, when shown, for the reports and ``yuqingd incident`` alike, with the labels of
:mod:`yuqingd.reports.labels`. A person's own note (the ``note`` field) is shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yuqingd.reports.labels import (
    ACTIONS,
    EXCUSES,
    NOTIFICATIONS,
    SCOPES,
    SYSTEM_ACTOR,
    TRACKED,
)
from yuqingd.reports.labels import DEADLINE_KINDS as KIND_ZH
from yuqingd.time.durations import format_duration_zh

_SILENCED_MISS = f"（{EXCUSES['silenced']}，不计入问责）"

Fields = Mapping[str, Any]


def duration_zh(seconds: float) -> str:
    """``1200`` → ``20分钟``, ``5400`` → ``1小时30分钟``."""
    return format_duration_zh(seconds)


def action_text(action: str, fields: Fields) -> str:
    """What an entry's action says, in Chinese; an escalation for a late report says so."""
    overdue = fields.get("overdue") if action == "escalated" else None
    if overdue:
        return f"{KIND_ZH.get(overdue, overdue)}逾期，升级"
    return ACTIONS.get(action, action)


def actor_text(actor: str) -> str:
    return "系统" if actor == SYSTEM_ACTOR else actor


def note_text(action: str, fields: Fields, actor: str = SYSTEM_ACTOR) -> str:
    """What an entry's fields say, in Chinese; a person's own note as written."""
    said = _said(action, fields, actor)
    return said if said is not None else str(fields.get("note", ""))


def _said(action: str, f: Fields, actor: str) -> str | None:
    """The daemon's own account of an entry, or None when it has none (or the entry lacks the
    fields it needs, as a converted old note that matched no pattern does)."""
    try:
        if action == "escalated" and "from_level" in f:
            step = f"第{f['from_level']}级 → 第{f['level']}级"
            if f.get("overdue"):
                return f"{step}，{KIND_ZH.get(f['overdue'], f['overdue'])}逾期"
            late = float(f.get("late_seconds", 0))
            return step + (f"，超时 {duration_zh(late)}" if round(late) else "")
        if action == "repeated" and "level" in f:
            return f"第{f['level']}级"
        if action == "reminded" and "count" in f:
            kind = KIND_ZH.get(f["what"], f["what"])
            return f"第{f['level']}级 {kind}逾期，第{f['count']}次提醒（共{f['times']}次）"
        if action == "digest" and "what" in f:
            return "仍未" + "、".join(KIND_ZH.get(k, k) for k in f["what"])
        if action == "repeats.done" and "times" in f:
            return f"第{f['level']}级已提醒 {f['times']} 次"
        if action == "opened" and "rule" in f:
            return f"规则 {f['rule']}" + (f"，对象 {f['key']}" if f.get("key") else "")
        if action == "downgraded" and "quiet" in f:
            return f"{f['previous']} → {f['severity']}：{duration_zh(f['quiet'])}内无新信息"
        if action == "closed" and "quiet" in f and not f.get("note"):
            return f"确认后 {duration_zh(f['quiet'])}内无新信息，自动关闭"
        if action.startswith("missed.") and "role" in f:
            kind = action.removeprefix("missed.")
            return (f"第{f['level']}级 {f['role']} {f['who']} 未在时限内{KIND_ZH.get(kind, kind)}"
                    + (_SILENCED_MISS if f.get("silenced") else ""))
        if action == "notification.silenced" and "silence" in f:
            if f.get("level") and f.get("kind") and f.get("channel"):  # an incident's
                told = NOTIFICATIONS.get(f["kind"], f["kind"])
                return (f"第{f['level']}级{told}通知（{f['channel']}）被静默 #{f['silence']} "
                        f"拦下")
            return f"通知被静默 #{f['silence']} 拦下"
        if action == "notification.fallback" and "to_channel" in f:
            told = NOTIFICATIONS.get(f.get("kind", ""), "")
            what = f"第{f['level']}级{told}通知" if told and f.get("level") else "通知"
            return (f"{what}：{'、'.join(f['people'])} 经 {f['channel']} 发送失败已"
                    f"{duration_zh(float(f['failing']))}，改经 {f['to_channel']} 发送")
        if action == "silence.added" and "silence" in f:
            scope = SCOPES.get(f["scope"], f["scope"])
            return (f"静默 #{f['silence']}：{scope} {f['target']}，至 {f['until']}，"
                    f"原因：{f['reason']}")
        if action == "silence.removed" and "silence" in f:
            return f"静默 #{f['silence']}"
        if action == "watch.started" and "watch" in f:
            kind, key = f.get("kind", ""), f.get("key", "")
            what = f"{TRACKED[kind]} {key}" if kind in TRACKED and key else f"{kind}={key}"
            return f"跟踪 #{f['watch']}：{what}"
        if action == "watch.ended" and "watch" in f:
            reason = "到期结束" if actor == SYSTEM_ACTOR else f"由 {actor} 停止"
            return f"跟踪 #{f['watch']}：{reason}"
    except (KeyError, TypeError, ValueError):
        return None
    return None
