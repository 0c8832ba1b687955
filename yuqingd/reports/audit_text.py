"""Audit rows as people read them: each action and the daemon's own notes in Chinese.

The store keeps actions and notes as the escalation writes them (``escalated``,
``level 1 → 2; late by 1200s``); they are translated here, when shown, for the reports and
``yuqingd incident`` alike. A note that matches no known pattern (a person's own note) is
shown as written.
"""

from __future__ import annotations

import re

from yuqingd.reports.labels import DEADLINE_KINDS as KIND_ZH
from yuqingd.reports.labels import SCOPES, SYSTEM_ACTOR
from yuqingd.reports.labels import TRACKED as WATCH_KINDS
from yuqingd.time.durations import format_duration_zh, parse_duration

ACTIONS = {
    "opened": "生成事件",
    "escalated": "超时未确认，升级",
    "repeated": "仍未确认，再次提醒",
    "repeats.done": "提醒次数已满，停止提醒",
    "unacknowledged": "末级仍未确认",
    "acknowledged": "确认",
    "report.first": "首报",
    "report.follow_up": "续报",
    "report.final": "终报",
    **{f"missed.{kind}": f"{label}逾期" for kind, label in KIND_ZH.items()},
    "downgraded": "无新信息，降低严重程度",
    "closed": "结案",
    "notification.silenced": "通知被静默，未发出",
    "silence.added": "设置静默",
    "silence.removed": "解除静默",
    "watch.started": "开始跟踪",
    "watch.ended": "结束跟踪",
}

NOTIFICATION_KINDS = {
    "incident.opened": "事件生成",
    "incident.escalated": "升级",
    "incident.repeated": "再次提醒",
    "incident.overdue": "报告逾期",
    "incident.acknowledged": "确认",
}

_OVERDUE = re.compile(r"^level (\d+) → (\d+); (\w+) overdue$")
_LATE = re.compile(r"^level (\d+) → (\d+); late by (\d+(?:\.\d+)?)s$")
_LEVEL = re.compile(r"^level (\d+)$")
_REPEATS_DONE = re.compile(r"^level (\d+): reminded (\d+) times$")
_OPENED = re.compile(r"^rule=(\S+)(?: key=(.*))?$")
_DOWNGRADED = re.compile(r"^(\S+) → (\S+)：([\d.smhdw]+) 内无新信息$")
_QUIET_CLOSED = re.compile(r"^确认后 ([\d.e+]+)s 内无新信息，自动关闭$")
_SILENCED = re.compile(r"^(\S+) silence=(\d+)$")
_SILENCE_ADDED = re.compile(r"^silence=(\d+) (\w+)=(.*) until=(\S+) reason=(.*)$", re.S)
_SILENCE_REMOVED = re.compile(r"^silence=(\d+)$")
_WATCH = re.compile(r"^watch=(\d+) (.*)$", re.S)


def duration_zh(seconds: float) -> str:
    """``1200`` → ``20分钟``, ``5400`` → ``1小时30分钟``."""
    return format_duration_zh(seconds)


def overdue_kind(action: str, note: str) -> str | None:
    """The deadline kind (``first_report`` …) whose miss caused an escalation, or None when
    it was an unacknowledged level (or not an escalation)."""
    match = _OVERDUE.match(note) if action == "escalated" else None
    return match[3] if match else None


def action_text(action: str, note: str = "") -> str:
    """What an audit row's action says, in Chinese; an escalation for a late report says so."""
    kind = overdue_kind(action, note)
    if kind is not None:
        return f"{KIND_ZH.get(kind, kind)}逾期，升级"
    return ACTIONS.get(action, action)


def actor_text(actor: str) -> str:
    return "系统" if actor == SYSTEM_ACTOR else actor


def note_text(action: str, note: str) -> str:
    """An audit row's note in Chinese: the daemon's own notes are translated, people's kept."""
    if action == "escalated" and (match := _OVERDUE.match(note)):
        kind = KIND_ZH.get(match[3], match[3])
        return f"第{match[1]}级 → 第{match[2]}级，{kind}逾期"
    if action == "escalated" and (match := _LATE.match(note)):
        late = float(match[3])
        return f"第{match[1]}级 → 第{match[2]}级" + (
            f"，超时 {duration_zh(late)}" if round(late) else "")
    if action == "repeated" and (match := _LEVEL.match(note)):
        return f"第{match[1]}级"
    if action == "repeats.done" and (match := _REPEATS_DONE.match(note)):
        return f"第{match[1]}级已提醒 {match[2]} 次"
    if action == "opened" and (match := _OPENED.match(note)):
        return f"规则 {match[1]}" + (f"，对象 {match[2]}" if match[2] else "")
    if action == "downgraded" and (match := _DOWNGRADED.match(note)):
        try:
            quiet = duration_zh(parse_duration(match[3]))
        except ValueError:
            return note
        return f"{match[1]} → {match[2]}：{quiet}内无新信息"
    if action == "closed" and (match := _QUIET_CLOSED.match(note)):
        return f"确认后 {duration_zh(float(match[1]))}内无新信息，自动关闭"
    if action == "notification.silenced" and (match := _SILENCED.match(note)):
        return _silenced(match[1], match[2])
    if action == "silence.added" and (match := _SILENCE_ADDED.match(note)):
        scope = SCOPES.get(match[2], match[2])
        return f"静默 #{match[1]}：{scope} {match[3]}，至 {match[4]}，原因：{match[5]}"
    if action == "silence.removed" and (match := _SILENCE_REMOVED.match(note)):
        return f"静默 #{match[1]}"
    if action.startswith("watch.") and (match := _WATCH.match(note)):
        kind, _, key = match[2].partition("=")
        what = f"{WATCH_KINDS[kind]} {key}" if kind in WATCH_KINDS and key else match[2]
        return f"跟踪 #{match[1]}：{what}"
    return note


def _silenced(notification_id: str, silence: str) -> str:
    """``20260510-001:incident.opened:L1:open:duty-phone`` → who was not told of what."""
    parts = notification_id.split(":")
    if len(parts) == 5 and parts[2].startswith("L"):
        kind = NOTIFICATION_KINDS.get(parts[1], parts[1])
        return f"第{parts[2][1:]}级{kind}通知（{parts[4]}）被静默 #{silence} 拦下"
    return f"通知被静默 #{silence} 拦下"
