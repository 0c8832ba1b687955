"""One notification as a Chinese markdown card, shared by the group-robot notifiers.

Title, severity, the watched name (``key``), the items with links, each deadline in
Asia/Shanghai with its offset, and per action the signed link of each person the robot reaches
(labelled with the person) or, when the HTTP endpoint is off, the command line.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from yuqingd.model import Notification

SHANGHAI = ZoneInfo("Asia/Shanghai")

KIND_LABELS = {
    "incident.opened": "新舆情",
    "incident.escalated": "舆情升级",
    "incident.repeated": "舆情提醒",
    "incident.acknowledged": "已确认",
    "reminder": "提醒",
    "overdue": "已逾期",
    "report": "舆情报告",
    "duty_report": "值班报告",
    "briefing": "舆情简报",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, KIND_LABELS.get(kind.rsplit(".", 1)[-1], "通知"))


def shanghai(at: str) -> str:
    """``2026-12-04T09:30:00+08:00`` as ``2026-12-04 09:30 (+08:00)``; unparsable text as is."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return at
    if when.tzinfo is None:
        return at
    local = when.astimezone(SHANGHAI)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} ({offset[:3]}:{offset[3:]})"


def _escape(text: str) -> str:
    return text.replace("[", "【").replace("]", "】").replace("\n", " ")


def title(notification: Notification) -> str:
    return f"【{kind_label(notification.kind)}】{notification.title}"


def markdown(notification: Notification) -> str:
    """The card body in the markdown all three robots understand (headings, bold, links)."""
    n = notification
    lines = [f"### {_escape(title(n))}", ""]
    lines.append(f"**级别**：{n.severity}（{n.level} 级）")
    if n.key:
        lines.append(f"**关注对象**：{_escape(n.key)}")
    if n.to:
        lines.append("**通知**：" + "、".join(f"{r.person}（{r.role}）" for r in n.to))
    if n.items:
        lines += ["", "**相关信息**："]
        for item in n.items:
            name = _escape(item.title) or "（无标题）"
            source = f"（{item.source}）" if item.source else ""
            lines.append(f"- [{name}]({item.url}){source}" if item.url else f"- {name}{source}")
    for due in n.deadlines:
        lines.append(f"**{due.label}截止**：{shanghai(due.at)}")
    if n.actions:
        lines += ["", "**操作**："]
        for action in n.actions:
            if action.url:
                who = f"（{action.person}）" if action.person else ""
                lines.append(f"- [{action.label}{who}]({action.url})")
            else:
                lines.append(f"- {action.label}：`{action.command}`")
    lines += ["", f"编号 {n.incident} · {shanghai(n.at)}"]
    return "\n".join(lines)
