"""The Chinese pages a signed link opens: mobile-first HTML, no script, one form per action."""

from __future__ import annotations

from html import escape
from typing import Any

from yuqingd.reports.audit import action_text, actor_text
from yuqingd.runtime.deadlines import KIND_ZH

STATUS_ZH = {"open": "待确认", "acknowledged": "已确认", "closed": "已关闭"}
STAGE_BUTTONS = (("first", "首报"), ("follow_up", "续报"), ("final", "终报"))
DEADLINE_STATE_ZH = {"pending": "待完成", "met": "按时完成", "cancelled": "已取消", "fired": "逾期"}

_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
padding:1rem;max-width:40rem;line-height:1.5;color:#222}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.sev{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#c62828;color:#fff}
.state{font-weight:bold}.done{background:#e8f5e9;padding:.6rem;border-radius:.3rem}
.err{background:#ffebee;padding:.6rem;border-radius:.3rem}
ul{padding-left:1.2rem}li{margin:.2rem 0}small{color:#666}
form{margin:.6rem 0}textarea{width:100%;box-sizing:border-box;font-size:1rem}
button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;border-radius:.4rem;
border:1px solid #1565c0;background:#1565c0;color:#fff}
button.secondary{background:#fff;color:#1565c0}
"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{body}</body></html>")


def message_page(title: str, text: str) -> str:
    """A page that only says something (a link that cannot be used, a stopping daemon)."""
    return _page(title, f'<h1>{escape(title)}</h1><p class="err">{escape(text)}</p>')


def incident_page(record: dict[str, Any], *, person: str, csrf: str, notice: str = "",
                  error: str = "") -> str:
    """The incident as the person the link was made for sees it, with what they can do."""
    inc = record["incident"]
    status = inc["status"]
    parts = [f'<p><span class="sev">{escape(inc["severity"])}</span> '
             f'<span class="state">{STATUS_ZH.get(status, status)}</span> '
             f'<small>事件 {escape(inc["id"])}</small></p>',
             f'<h1>{escape(inc["title"])}</h1>',
             f'<p>监测对象：{escape(inc["key"])}　规则：{escape(inc["rule"])}<br>'
             f'<small>发现时间：{escape(inc["opened_at"])}</small></p>']
    if notice:
        parts.append(f'<p class="done" role="status">{escape(notice)}</p>')
    if error:
        parts.append(f'<p class="err" role="alert">{escape(error)}</p>')
    acked = [t for t in record["transitions"] if t["action"] == "acknowledged"]
    if acked:
        parts.append(f'<p class="done">已由 {escape(acked[-1]["by"])} 于 '
                     f'{escape(acked[-1]["at"])} 确认</p>')
    if status != "closed":
        parts.append(_forms(status, csrf, person))
    parts.append("<h2>相关信息</h2><ul>" + "".join(
        f'<li><a href="{escape(i["url"])}" rel="noreferrer">{escape(i["title"])}</a></li>'
        for i in record["items"]) + "</ul>")
    parts.append("<h2>时限</h2><ul>" + "".join(
        f'<li>{escape(KIND_ZH.get(d["kind"], d["kind"]))}：{escape(d["due_at"])}，'
        f'{escape(d["who"] or d["role"] or "—")}，'
        f'{DEADLINE_STATE_ZH.get(d["state"], d["state"])}</li>'
        for d in record["deadlines"]) + "</ul>")
    parts.append("<h2>处置记录</h2><ul>" + "".join(
        f'<li><small>{escape(t["at"])}</small> {escape(action_text(t["action"], t["fields"]))}'
        f' {escape(actor_text(t["by"]))}{_via(t["fields"])}</li>'
        for t in record["transitions"]) + "</ul>")
    return _page(f"事件 {inc['id']}", "".join(parts))


def _via(fields: dict[str, Any]) -> str:
    via = str(fields.get("via") or "")
    if via.startswith("link (") and via.endswith(")"):
        return f"（经链接，{escape(via[6:-1])}）"
    return f"（{escape(via)}）" if via else ""


def _forms(status: str, csrf: str, person: str) -> str:
    hidden = f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    note = ('<label>备注<textarea name="note" rows="2" maxlength="500"></textarea></label>')
    buttons = ""
    if status == "open":
        buttons += '<button name="do" value="ack">确认</button>'
    buttons += "".join(f'<button class="secondary" name="do" value="{stage}">记录{zh}</button>'
                       for stage, zh in STAGE_BUTTONS)
    return (f'<form method="post"><p>以 <b>{escape(person)}</b> 的身份处置：</p>'
            f"{hidden}{note}<div>{buttons}</div></form>")
