"""The Chinese labels people read — in reports, messages and command output — each defined once.
Code keeps English keys (``negative``, ``first_report``, ``source``); these tables name them."""

from __future__ import annotations

SYSTEM_ACTOR = "yuqingd"  # the daemon itself, shown as 系统

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

# An incident's status as a briefing shows it, and the last report made.
STATUS = {"open": "未确认", "acknowledged": "已确认", "closed": "已结案"}
REPORTED = {"first": "已首报", "follow_up": "已续报", "final": "已终报"}

REPORT_KINDS = {"duty": "值班报告", "weekly": "信息周报"}
