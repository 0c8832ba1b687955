"""Incident commands: ``yuqingd ack``, ``report``, ``close``, ``incidents``, ``incident``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yuqingd.commands import EX_OK, CommandError, call, handler, with_socket
from yuqingd.located import msg
from yuqingd.reports import misses
from yuqingd.reports.audit import action_text, actor_text, note_text
from yuqingd.reports.labels import EXCUSED, NOTIFICATIONS
from yuqingd.runtime.deadlines import KIND_ZH, REPORT_KINDS, STAGE_ZH
from yuqingd.runtime.incidents import AckError
from yuqingd.runtime.reminders import reminder_counts
from yuqingd.store.api import IncidentRow
from yuqingd.time.durations import format_duration

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


def resolve_incident(core: Core, target: Any, *, active: bool = True) -> IncidentRow:
    """An incident named by id (the CLI) or by ``{"rule", "key"}`` (simulate input: the
    active incident of that rule for that key)."""
    if isinstance(target, dict):
        incident = core.escalation.active_for(str(target.get("rule")), str(target.get("key")))
        if incident is None:
            raise CommandError(msg(
                f"没有规则 {target.get('rule')} 对象 {target.get('key')} 的未关闭事件",
                f"no open incident of rule {target.get('rule')} for {target.get('key')}"))
        return incident
    incident = core.escalation.get(str(target))
    if incident is None:
        raise CommandError(msg(f"没有编号为 {target} 的事件", f"no incident {target}"))
    return incident


def _person(args: dict[str, Any]) -> str:
    by = str(args.get("by") or "").strip()
    if not by:
        raise CommandError(msg("需要 --by 姓名", "--by NAME is required"))
    return by


def via(args: dict[str, Any]) -> str:
    """How the command came, when not the control socket (the HTTP endpoint sets it)."""
    return str(args.get("via") or "")


@handler("ack")
def ack(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(core, args.get("incident"))
    try:
        acked = core.escalation.acknowledge(incident.id, _person(args),
                                            str(args.get("note") or ""), now, via=via(args))
    except AckError as exc:
        raise CommandError(str(exc)) from None
    return {"incident": acked.id, "status": acked.status,
            "acked_at": core.clock.format(acked.acked_at or 0)}


@handler("report")
def report(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(core, args.get("incident"))
    stage = stage_of(args.get("stage") or "first")
    try:
        core.escalation.report(incident.id, stage, _person(args), str(args.get("note") or ""),
                               now, via=via(args))
    except AckError as exc:
        raise CommandError(str(exc)) from None
    return {"incident": incident.id, "stage": stage}


@handler("close")
def close(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(core, args.get("incident"))
    if incident.status == "closed":
        raise CommandError(msg(f"事件 {incident.id} 已关闭", f"incident {incident.id} is closed"))
    core.escalation.close_now(incident.id, now, by=_person(args),
                              note=str(args.get("note") or ""), via=via(args))
    return {"incident": incident.id}


@handler("incidents")
def incidents(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    """Open and acknowledged incidents (``all``: closed ones too), oldest first."""
    rows = [i for i in core.escalation.listing() if args.get("all") or i.status != "closed"]
    return {"incidents": [_summary(core, i) for i in rows]}


@handler("incident")
def incident(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    """The full record: stage, every transition, deadlines met or missed (and by whom), items."""
    row = resolve_incident(core, args.get("incident"))
    fmt = core.clock.format
    store = core.store
    return {
        "incident": {**_summary(core, row), "title": row.title, "items": row.item_count,
                     "chain": [{"level": n, **step} for n, step in enumerate(row.chain, 1)],
                     "deadlines": row.deadlines},
        "transitions": [{"at": fmt(a["at"]), "action": a["action"], "by": a["actor"],
                         "fields": dict(a.fields)} for a in store.incident_audit(row.id)],
        "deadlines": [{"kind": d["kind"], "level": d["level"], "due_at": fmt(d["due_at"]),
                       "state": d["state"],
                       "settled_at": fmt(d["settled_at"]) if d["settled_at"] else None,
                       "role": d["role"], "who": d["who"], "excused": d["excused"]}
                      for d in store.incident_deadlines(row.id)],
        "items": [{"title": i["title"], "url": i["url"]} for i in store.incident_items(row.id)],
        "misses": _misses(core, row, now),
        "reminders": reminder_counts(store.incident_audit(row.id)),
        "deliveries": _deliveries(core, row),
    }


def _deliveries(core: Core, row: IncidentRow) -> list[dict[str, Any]]:
    """Each notification of the incident: the channel that took it (after a fallback, the
    one it moved to, and from where), whom it named, whether it was delivered."""
    fmt = core.clock.format
    out = []
    for r in core.store.incident_outbox(row.id):
        payload = r.payload
        out.append({
            "id": r.id, "kind": payload.get("kind", ""), "level": payload.get("level", 0),
            "channel": r.channel, "fallback_from": r.fallback_from,
            "to": list(dict.fromkeys(t.get("person", "") for t in payload.get("to", ())
                                     if t.get("person"))),
            "at": fmt(r.created_at),
            "delivered_at": fmt(r.delivered_at) if r.delivered_at is not None else None,
            "attempts": r.attempts, "last_error": r.last_error})
    return out


def _misses(core: Core, row: IncidentRow, now: float) -> list[dict[str, Any]]:
    """The incident's own misses (问责), then the check-ins missed while it was open: who was
    not on duty while it was handled."""
    store, fmt = core.store, core.clock.format
    end = (store.last_audit(row.id, "closed") or now) if row.status == "closed" else now
    duty = [m for m in store.misses(row.opened_at, end + 1e-6)
            if m.incident_id is None and m.kind == "check_in"]
    return [{"at": fmt(m.at), "kind": m.kind, "what": misses.what(m),
             "holder": misses.holder(m), "due_at": fmt(m.due_at), "counts": m.counts,
             "reason": m.reason, "held": misses.held(m), "during": m.incident_id is None}
            for m in [*store.incident_misses(row.id), *duty]]


def _summary(core: Core, row: IncidentRow) -> dict[str, Any]:
    due = core.escalation.next_deadline(row.id)
    return {"id": row.id, "rule": row.rule_id, "key": row.group_key, "severity": row.severity,
            "status": row.status, "stage": row.stage, "level": row.level,
            "opened_at": core.clock.format(row.opened_at),
            "next": {"kind": due["kind"], "due_at": core.clock.format(due["due_at"])}
            if due else None}


def add_subcommands(sub: Any, with_config) -> None:
    ack = with_socket(with_config(sub.add_parser(
        "ack", help="acknowledge an incident (stops escalation)")))
    ack.add_argument("incident", help="incident id, e.g. 20261126-001")
    ack.add_argument("--by", required=True, help="who acknowledges (name)")
    ack.add_argument("--note", default="", help="note for the record")
    ack.set_defaults(func=cmd_ack)

    # `yuqingd report ID --stage …` shares its subcommand with the report viewer: see
    # yuqingd.commands.reports.add_subcommands.

    close = with_socket(with_config(sub.add_parser(
        "close", help="close an incident (no more items, no more deadlines)")))
    close.add_argument("incident", help="incident id")
    close.add_argument("--by", required=True, help="who closes it (name)")
    close.add_argument("--note", default="", help="why, for the record")
    close.set_defaults(func=cmd_close)

    listing = with_socket(with_config(sub.add_parser(
        "incidents", help="list open and acknowledged incidents")))
    listing.add_argument("--all", action="store_true", help="closed incidents too")
    listing.set_defaults(func=cmd_incidents)

    record = with_socket(with_config(sub.add_parser(
        "incident", help="show one incident's full record")))
    record.add_argument("incident", help="incident id")
    record.set_defaults(func=cmd_incident)


def cmd_ack(args) -> int:
    code, reply = call(args, {"command": "ack", "incident": args.incident, "by": args.by,
                              "note": args.note})
    if code:
        return code
    print(msg(
        f"事件 {reply['incident']} 已确认（{reply['acked_at']}），升级已停止",
        f"incident {reply['incident']} acknowledged at {reply['acked_at']}; escalation stopped",
    ))
    return EX_OK


STAGE_ARG_ZH = {"first": "首报", "follow_up": "续报", "final": "终报"}


def stages_told() -> str:
    """The three stages as a person is told them, e.g. when one is missing or mistyped."""
    return msg("首报、续报 或 终报（也可写 first、follow_up、final）",
               "first, follow_up or final (or 首报, 续报, 终报)")


def stage_of(typed: object) -> str:
    """The report stage (first | follow_up | final) from what an officer types: the Chinese
    names they use (首报/续报/终报) or the English ones."""
    word = str(typed or "").strip()
    if word in STAGE_ARG_ZH:
        return word
    for stage, zh in STAGE_ARG_ZH.items():
        if word == zh:
            return stage
    told = stages_told()
    raise CommandError(msg(f"报告阶段须为 {told}" + (f"，不是 {word!r}" if word else ""),
                           f"the report stage must be {told}"
                           + (f", not {word!r}" if word else "")))


STATE_ZH = {"pending": "待完成", "met": "按时完成", "cancelled": "已取消", "fired": "逾期"}


def cmd_report(args) -> int:
    code, reply = call(args, {"command": "report", "incident": args.incident,
                              "stage": args.stage, "by": args.by, "note": args.note})
    if code:
        return code
    stage = reply["stage"]
    print(msg(f"事件 {reply['incident']} 已记录{STAGE_ARG_ZH[stage]}（{args.by}）",
              f"incident {reply['incident']}: {stage} report recorded ({args.by})"))
    return EX_OK


def cmd_close(args) -> int:
    code, reply = call(args, {"command": "close", "incident": args.incident, "by": args.by,
                              "note": args.note})
    if code:
        return code
    print(msg(f"事件 {reply['incident']} 已关闭", f"incident {reply['incident']} closed"))
    return EX_OK


def cmd_incidents(args) -> int:
    code, reply = call(args, {"command": "incidents", "all": args.all})
    if code:
        return code
    print("\t".join(["编号", "阶段", "严重程度", "级别", "规则", "对象", "打开时间", "下一时限"]))
    for i in reply["incidents"]:
        due = i["next"]
        print("\t".join([i["id"], STAGE_ZH.get(i["stage"], i["stage"]), i["severity"],
                         f"第{i['level']}级", i["rule"], i["key"], i["opened_at"],
                         f"{KIND_ZH.get(due['kind'], due['kind'])} {due['due_at']}" if due
                         else "-"]))
    return EX_OK


def cmd_incident(args) -> int:
    code, reply = call(args, {"command": "incident", "incident": args.incident})
    if code:
        return code
    i = reply["incident"]
    print(f"事件 {i['id']}  {i['title']}（{i['severity']}）")
    print(f"规则 {i['rule']}  对象 {i['key']}  阶段 {STAGE_ZH.get(i['stage'], i['stage'])}  "
          f"当前第{i['level']}级  相关信息 {i['items']} 条")
    print(f"打开时间 {i['opened_at']}")
    plan = i["deadlines"]
    limits = [f"{label} {format_duration(plan[k])}" for k, label in (
        ("first_report", "首报"), ("follow_up_every", "续报 每"), ("final_report", "终报"))
        if k in plan]
    ladder = "；".join(f"第{c['level']}级 {c['notify']}"
                      + (f" {format_duration(c['ack_within'])}内确认" if c.get("ack_within")
                         else "") for c in i["chain"])
    print(f"升级链 {ladder}")
    if limits:
        factor = f"（重点日期，时限×{plan['factor']:g}）" if plan.get("factor") else ""
        print("报告时限 " + "；".join(limits) + factor)
    print("经过：")
    for t in reply["transitions"]:
        note = note_text(t["action"], t["fields"], t["by"])
        print(f"  {t['at']}  {action_text(t['action'], t['fields'])}  {actor_text(t['by'])}"
              + (f"  {note}" if note else ""))
    # A report deadline said again after its miss (a reminder, a daily digest) is counted in
    # 提醒, not listed: two weeks unreported are a few lines, not hundreds.
    listed = [d for d in reply["deadlines"]
              if not (d["state"] == "fired" and d["kind"] in REPORT_KINDS and not d["role"])]
    if listed:
        print("时限：")
    for d in listed:
        state = STATE_ZH.get(d["state"], d["state"])
        if d["state"] == "fired" and d["kind"] == "repeat":
            state = "已提醒"
        when = f" {d['settled_at']}" if d["settled_at"] and d["state"] != "fired" else ""
        excused = f"（{EXCUSED[d['excused']]}）" if d.get("excused") in EXCUSED else ""
        held = f"（{d['role']} {d['who']}{excused}）" if d["who"] else ""
        print(f"  {KIND_ZH.get(d['kind'], d['kind'])}  第{d['level']}级  应于 {d['due_at']}  "
              f"{state}{when}{held}")
    reminded = reply.get("reminders") or {}
    if reminded:
        print("提醒：")
    for kind, n in reminded.items():
        digest = f"，每日逾期汇总 {n['digest']} 次" if n["digest"] else ""
        print(f"  {KIND_ZH.get(kind, kind)}逾期  已提醒 {n['reminded']} 次{digest}")
    if reply.get("misses"):
        print("问责：")
    for m in reply.get("misses", ()):
        during = "（事件处置期间）" if m["during"] else ""
        print(f"  {m['at']}  {m['what']}{during}  {m['holder']}  时限 {m['due_at']}  {m['held']}")
    if reply.get("deliveries"):
        print("通知送达：")
    for n in reply.get("deliveries", ()):
        print("  " + _delivery_line(n))
    if reply["items"]:
        print("最新信息：")
    for item in reply["items"]:
        print(f"  - {item['title']} {item['url']}".rstrip())
    return EX_OK


def _delivery_line(n: dict[str, Any]) -> str:
    """``10:00 第1级事件生成 经 mail 送达 张明 10:15（由 robot 转来）``."""
    told = NOTIFICATIONS.get(n["kind"], n["kind"])
    what = f"第{n['level']}级{told}" if n["level"] else told
    who = "、".join(n["to"]) or "（渠道）"
    if n["delivered_at"]:
        state = f"已送达 {n['delivered_at']}"
    elif n["attempts"]:
        state = f"未送达（已尝试 {n['attempts']} 次：{n['last_error'] or ''}）"
    else:
        state = "待发送"
    moved = f"（由 {n['fallback_from']} 转来）" if n.get("fallback_from") else ""
    return f"{n['at']}  {what}  经 {n['channel']} → {who}  {state}{moved}"
