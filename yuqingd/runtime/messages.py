"""The Chinese texts duty officers and leaders receive."""

from __future__ import annotations

from collections.abc import Sequence

from yuqingd.model import NotifiedItem
from yuqingd.time.durations import format_duration_zh


def incident_text(
    *,
    kind: str,
    incident_id: str,
    title: str,
    severity: str,
    key: str,
    level: int,
    role: str,
    person: str,
    ack_within: float | None,
    previous: tuple[str, str] | None,
    items: Sequence[NotifiedItem],
    item_count: int,
    at: str,
) -> str:
    heading = {
        "incident.opened": "【舆情事件】",
        "incident.escalated": "【舆情事件升级】",
        "incident.repeated": "【舆情事件提醒】",
    }[kind]
    lines = [
        f"{heading}{title}（{severity}）",
        f"事件编号：{incident_id}",
        f"监测对象：{key}",
        f"相关信息：{item_count} 条",
    ]
    if previous:
        lines.append(f"第{level - 1}级（{previous[0]} {previous[1]}）未按时确认，已升级。")
    lines.append(f"通知：第{level}级 {role} {person}")
    if ack_within:
        lines.append(
            f"请在{format_duration_zh(ack_within)}内确认：yuqingd ack {incident_id} --by {person}"
        )
    else:
        lines.append(f"请尽快确认：yuqingd ack {incident_id} --by {person}")
    if items:
        lines.append("最新信息：")
        lines += [f"- {i.title} {i.url}".rstrip() for i in items]
    lines.append(f"时间：{at}")
    return "\n".join(lines)


def acknowledged_text(*, incident_id: str, title: str, by: str, note: str, at: str) -> str:
    text = f"【事件已确认】{title}\n事件编号：{incident_id}\n确认人：{by}\n时间：{at}"
    return text + (f"\n备注：{note}" if note else "")


def overdue_text(*, incident_id: str, title: str, severity: str, key: str, what: str,
                 stage: str, due: str, level: int, role: str, who: str, target: int,
                 target_role: str, person: str, items: Sequence[NotifiedItem], item_count: int,
                 at: str, reminder: str = "") -> str:
    """A report (首报/续报/终报) not made in time, sent to the next level (or the last again);
    ``reminder``: which reminder of how many this is, when it is one."""
    lines = [
        f"【{what}逾期】{title}（{severity}）",
        f"事件编号：{incident_id}",
        f"监测对象：{key}",
        f"相关信息：{item_count} 条",
        f"{what}时限 {due} 已过，第{level}级（{role} {who}）未按时{what}。",
        f"通知：第{target}级 {target_role} {person}",
        f"请督促{what}：yuqingd report {incident_id} --stage {stage} --by 姓名",
    ]
    if reminder:
        lines.append(reminder)
    if items:
        lines.append("最新信息：")
        lines += [f"- {i.title} {i.url}".rstrip() for i in items]
    lines.append(f"时间：{at}")
    return "\n".join(lines)


def digest_text(*, incident_id: str, title: str, severity: str, key: str, owed: Sequence[str],
                stage: str, at: str) -> str:
    """The daily overdue digest: the reports an incident still owes, once a day."""
    lines = [
        f"【逾期汇总】{title}（{severity}）",
        f"事件编号：{incident_id}",
        f"监测对象：{key}",
        "仍未报告：" + "；".join(owed),
        f"请尽快报告：yuqingd report {incident_id} --stage {stage} --by 姓名",
        "每天汇总提醒一次，直到报告或结案。",
        f"时间：{at}",
    ]
    return "\n".join(lines)
