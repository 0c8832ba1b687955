"""The Chinese labels people read — in reports, messages and command output — each defined once.
Code keeps English keys (``negative``, ``first_report``, ``source``); these tables name them."""

from __future__ import annotations

from yuqingd.store.api import SYSTEM_ACTOR as SYSTEM_ACTOR  # the daemon, shown as 系统

SENTIMENTS = {"negative": "负面", "neutral": "中性", "positive": "正面"}

# What a watch, a silence or a rule key is about.
SCOPES = {"rule": "规则", "key": "对象", "source": "信息源"}
TRACKED = {"entity": "监测对象", "topic": "主题", "story": "报道", "source": "信息源"}

# Incident lifecycle stages and kinds of deadline.
STAGES = {
    "opened": "待确认",
    "acknowledged": "已确认",
    "first_report": "已首报",
    "follow_up": "已续报",
    "final_report": "已终报",
    "closed": "已关闭",
}
DEADLINE_KINDS = {
    "ack": "确认",
    "repeat": "重复提醒",
    "first_report": "首报",
    "follow_up": "续报",
    "final_report": "终报",
}

# Obligations (yuqingd.runtime.obligations) and why a miss is not held against its people.
OBLIGATIONS = {**{k: v for k, v in DEADLINE_KINDS.items() if k != "repeat"},
               "check_in": "值班签到", "submission": "报送"}
EXCUSES = {"silenced": "该级通知已被静默，未送达", "daemon_down": "到期时服务未运行"}
EXCUSED = {"silenced": "通知已静默", "daemon_down": "到期时服务未运行"}  # said after a name

# An incident's status as a briefing shows it, and the last report made.
STATUS = {"open": "未确认", "acknowledged": "已确认", "closed": "已结案"}
REPORTED = {"first": "已首报", "follow_up": "已续报", "final": "已终报"}

REPORT_KINDS = {"duty": "值班报告", "weekly": "信息周报"}

# What an audit entry's action says (yuqingd.runtime.audit; shown by yuqingd.reports.audit).
ACTIONS = {
    "opened": "生成事件",
    "escalated": "超时未确认，升级",
    "repeated": "仍未确认，再次提醒",
    "repeats.done": "提醒次数已满，停止提醒",
    "reminded": "报告逾期，再次提醒",
    "digest": "逾期汇总提醒",
    "unacknowledged": "末级仍未确认",
    "acknowledged": "确认",
    "report.first": "首报",
    "report.follow_up": "续报",
    "report.final": "终报",
    **{f"missed.{kind}": f"{label}逾期" for kind, label in DEADLINE_KINDS.items()},
    "downgraded": "无新信息，降低严重程度",
    "closed": "结案",
    "notification.silenced": "通知被静默，未发出",
    "notification.fallback": "渠道发送失败，改用备用渠道",
    "silence.added": "设置静默",
    "silence.removed": "解除静默",
    "watch.started": "开始跟踪",
    "watch.ended": "结束跟踪",
}

# The kinds of incident notification, as a withheld one is described.
NOTIFICATIONS = {
    "incident.opened": "事件生成",
    "incident.escalated": "升级",
    "incident.repeated": "再次提醒",
    "incident.overdue": "报告逾期",
    "incident.overdue_digest": "逾期汇总",
    "incident.acknowledged": "确认",
}
