"""Health of one running source or notifier: what the core saw and what the plugin said.

The supervisor (sources) and the channel worker (notifiers) keep one record per configured name;
the plugin writes to it only through its context (``ctx.set_health``, ``ctx.heartbeat``). STATUS,
``yuqingd status``, ``yuqingd sources`` and the duty report read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What a plugin may say about itself with ctx.set_health(state, message).
HEALTH_STATES = ("ok", "degraded", "failing")

STATE_LABELS = {
    "pending": ("未报告", "not reported yet"),
    "ok": ("正常", "ok"),
    "degraded": ("降级", "degraded"),
    "failing": ("异常", "failing"),
    "restarting": ("重启中", "restarting"),
    "finished": ("已结束", "finished"),
}


@dataclass
class Health:
    kind: str = ""
    healthy: bool = False  # alive and not failing: what the "n/m 正常" count says
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None  # epoch seconds
    last_item_at: float | None = None  # epoch seconds: a source's last emit, a notifier's send
    next_poll_at: float | None = None  # epoch seconds, when the source said (ctx.sleep)
    reported: bool = False  # it has shown life at least once
    restarting: bool = False  # failed, waiting out its back-off
    finished: bool = False  # a source whose run returned
    plugin_state: str = "ok"  # one of HEALTH_STATES, set by the plugin
    message: str | None = None  # the plugin's own words (Chinese), with plugin_state
    delivered: int = 0  # notifiers: notifications delivered since start

    def set_by_plugin(self, state: str, message: str | None) -> None:
        if state not in HEALTH_STATES:
            raise ValueError(f"health state must be one of {HEALTH_STATES}, not {state!r}")
        self.plugin_state = state
        self.message = message or None
        self.healthy = self.reported and state != "failing"

    @property
    def state(self) -> str:
        """pending | ok | degraded | failing | restarting | finished."""
        if self.restarting:
            return "restarting"
        if self.finished:
            return "finished"
        if not self.reported:
            return "pending"
        return self.plugin_state

    def as_dict(self, name: str, fmt: Any) -> dict[str, Any]:
        """For the control socket; ``fmt`` turns epoch seconds into local ISO 8601."""

        def when(epoch: float | None) -> str | None:
            return fmt(epoch) if epoch is not None else None

        return {
            "name": name,
            "kind": self.kind,
            "state": self.state,
            "message": self.message,
            "restarts": self.restarts,
            "last_item_at": when(self.last_item_at),
            "last_error": self.last_error,
            "last_error_at": when(self.last_error_at),
            "next_poll_at": when(self.next_poll_at),
            "delivered": self.delivered,
        }


def state_label(state: str) -> str:
    from yuqingd.located import msg

    zh, en = STATE_LABELS.get(state, (state, state))
    return msg(zh, en)


def health_line(entry: dict[str, Any], *, notifier: bool = False) -> str:
    """One line of ``yuqingd status`` for a source or notifier (a dict from the socket)."""
    from yuqingd.located import msg

    what = msg("通知渠道", "notifier") if notifier else msg("信息源", "source")
    text = f"{what} {entry['name']}（{entry['kind']}）：{state_label(entry['state'])}"
    parts = []
    if entry.get("message"):
        parts.append(entry["message"])
    if entry.get("last_item_at"):
        label = msg("最近发送", "last sent") if notifier else msg("最近条目", "last item")
        parts.append(f"{label} {entry['last_item_at']}")
    if entry.get("next_poll_at") and not notifier:
        label = msg("重启于", "restart at") if entry["state"] == "restarting" else msg(
            "下次抓取", "next poll")
        parts.append(f"{label} {entry['next_poll_at']}")
    if entry.get("last_error"):
        at = f"（{entry['last_error_at']}）" if entry.get("last_error_at") else ""
        parts.append(f"{msg('最近错误', 'last error')}{at}：{entry['last_error']}")
    return text + ("；" + "；".join(parts) if parts else "")


SOURCE_COLUMNS = ("name", "kind", "state", "last_item_at", "last_error", "next_poll_at")


def sources_table(entries: list[dict[str, Any]]) -> list[str]:
    """``yuqingd sources``: a header and one tab-separated line per source ('-' when unknown)."""
    from yuqingd.located import msg

    header = msg("名称\t类型\t状态\t最近条目\t最近错误\t下次抓取",
                 "name\tkind\tstate\tlast item\tlast error\tnext poll")
    lines = [header]
    for entry in entries:
        cells = []
        for column in SOURCE_COLUMNS:
            value = entry.get(column)
            if column == "state":
                value = state_label(str(value))
                if entry.get("message"):
                    value += f"：{entry['message']}"
            cells.append(str(value).replace("\t", " ").replace("\n", " ") if value else "-")
        lines.append("\t".join(cells))
    return lines
