"""Duty commands: ``yuqingd check-in`` (the officer's shift check-in) and ``yuqingd submit``
(a sub-unit's submission)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yuqingd.commands import EX_OK, CommandError, call, handler, with_socket
from yuqingd.located import msg
from yuqingd.runtime.expectations import ExpectationError

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


def _required(args: dict[str, Any], name: str, flag: str) -> str:
    value = str(args.get(name) or "").strip()
    if not value:
        raise CommandError(msg(f"需要 {flag}", f"{flag} is required"))
    return value


@handler("check_in")
def check_in(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    try:
        return core.expectations.check_in(_required(args, "by", "--by 姓名"),
                                          str(args.get("note") or ""), now)
    except ExpectationError as exc:
        raise CommandError(str(exc)) from None


@handler("submit")
def submit(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    try:
        return core.expectations.submit(
            _required(args, "unit", "--unit 单位"), _required(args, "by", "--by 姓名"),
            str(args.get("what") or "") or None, str(args.get("period") or "") or None,
            str(args.get("note") or ""), now)
    except ExpectationError as exc:
        raise CommandError(str(exc)) from None


def add_subcommands(sub: Any, with_config) -> None:
    check = with_socket(with_config(sub.add_parser(
        "check-in", help="check in for your duty shift (值班签到)")))
    check.add_argument("--by", required=True, help="who checks in (name, as on the roster)")
    check.add_argument("--note", default="", help="note for the record")
    check.set_defaults(func=cmd_check_in)

    submit = with_socket(with_config(sub.add_parser(
        "submit", help="record a sub-unit's submission (报送), e.g. a county's weekly report")))
    submit.add_argument("--unit", required=True, help="the unit that submits, e.g. A旗")
    submit.add_argument("--by", required=True, help="who records it (name)")
    submit.add_argument("--what", default="", help="which submission (its name in the config); "
                        "needed when several are declared")
    submit.add_argument("--period", default="",
                        help="the due date it is for (YYYY-MM-DD); default: the earliest not "
                        "yet submitted")
    submit.add_argument("--note", default="", help="note for the record")
    submit.set_defaults(func=cmd_submit)


def cmd_check_in(args) -> int:
    code, reply = call(args, {"command": "check_in", "by": args.by, "note": args.note})
    if code:
        return code
    if reply.get("already"):
        print(msg(f"已于 {reply['at']} 签到过（{reply['subject']}）",
                  f"already checked in at {reply['at']} ({reply['subject']})"))
    else:
        late = "（逾期）" if reply.get("late") else ""
        print(msg(f"签到成功{late}：{reply['subject']}，{reply['at']}",
                  f"checked in{' (late)' if reply.get('late') else ''}: {reply['subject']}"))
    if reply.get("stood_in_for"):
        names = "、".join(reply["stood_in_for"])
        print(msg(f"已替班：{names} 的签到一并记为完成", f"standing in for: {names}"))
    return EX_OK


def cmd_submit(args) -> int:
    code, reply = call(args, {"command": "submit", "unit": args.unit, "by": args.by,
                              "what": args.what, "period": args.period, "note": args.note})
    if code:
        return code
    late = "逾期" if reply.get("late") else "按时"
    print(msg(f"已记录{late}报送：{reply['subject']}（截止 {reply['due']}，报送于 {reply['at']}）",
              f"recorded ({'late' if reply.get('late') else 'on time'}): {reply['subject']}"))
    return EX_OK
