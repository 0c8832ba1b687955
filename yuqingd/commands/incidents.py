"""Incident commands: ``yuqingd ack``."""

from __future__ import annotations

from typing import Any

from yuqingd.commands import EX_OK, CommandError, call, handler, with_socket
from yuqingd.escalation.incidents import AckError
from yuqingd.located import msg
from yuqingd.store.sqlite import IncidentRow


def resolve_incident(daemon: Any, target: Any, *, active: bool = True) -> IncidentRow:
    """An incident named by id (the CLI) or by ``{"rule", "key"}`` (simulate input: the
    active incident of that rule for that key)."""
    if isinstance(target, dict):
        incident = daemon.store.active_incident(str(target.get("rule")), str(target.get("key")))
        if incident is None:
            raise CommandError(msg(
                f"没有规则 {target.get('rule')} 对象 {target.get('key')} 的未关闭事件",
                f"no open incident of rule {target.get('rule')} for {target.get('key')}"))
        return incident
    incident = daemon.store.incident(str(target))
    if incident is None:
        raise CommandError(msg(f"没有编号为 {target} 的事件", f"no incident {target}"))
    return incident


def _person(args: dict[str, Any]) -> str:
    by = str(args.get("by") or "").strip()
    if not by:
        raise CommandError(msg("需要 --by 姓名", "--by NAME is required"))
    return by


@handler("ack")
def ack(daemon: Any, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(daemon, args.get("incident"))
    try:
        acked = daemon.escalation.acknowledge(incident.id, _person(args),
                                              str(args.get("note") or ""), now)
    except AckError as exc:
        raise CommandError(str(exc)) from None
    return {"incident": acked.id, "status": acked.status,
            "acked_at": daemon.clock.format(acked.acked_at or 0)}


@handler("report")
def report(daemon: Any, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(daemon, args.get("incident"))
    stage = str(args.get("stage") or "first")
    try:
        daemon.escalation.report(incident.id, stage, _person(args), str(args.get("note") or ""),
                                 now)
    except AckError as exc:
        raise CommandError(str(exc)) from None
    return {"incident": incident.id, "stage": stage}


@handler("close")
def close(daemon: Any, args: dict[str, Any], now: float) -> dict[str, Any]:
    incident = resolve_incident(daemon, args.get("incident"))
    with daemon.store.transaction():
        daemon.escalation.close(incident.id, now, by=_person(args),
                                note=str(args.get("note") or ""))
    return {"incident": incident.id}


def add_subcommands(sub: Any, with_config) -> None:
    ack = with_socket(with_config(sub.add_parser(
        "ack", help="acknowledge an incident (stops escalation)")))
    ack.add_argument("incident", help="incident id, e.g. 20261126-001")
    ack.add_argument("--by", required=True, help="who acknowledges (name)")
    ack.add_argument("--note", default="", help="note for the record")
    ack.set_defaults(func=cmd_ack)


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
