"""Report commands: ``yuqingd handover`` (the outgoing officer's note for the duty report) and
``yuqingd report duty|weekly`` (a kept report, or one rendered afresh).

``yuqingd report`` asks the running daemon over the control socket; when no daemon answers it
opens the state database itself (the store's lock is free then), so reports can be read while
yuqingd is stopped.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from yuqingd.commands import (
    EX_CONFIG,
    EX_FAILURE,
    EX_OK,
    EX_UNAVAILABLE,
    EX_USAGE,
    CommandError,
    call,
    handler,
    open_offline,
    with_socket,
)
from yuqingd.located import msg
from yuqingd.reports import periods
from yuqingd.reports.periods import Period
from yuqingd.runtime.reports import current_period, render

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


@handler("handover")
def handover(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    by = str(args.get("by") or "").strip()
    note = str(args.get("note") or "").strip()
    if not by:
        raise CommandError(msg("需要 --by 姓名", "--by NAME is required"))
    if not note:
        raise CommandError(msg("需要 --note 交接事项", "--note TEXT is required"))
    period = current_period(core.config, core.clock, now)
    core.reports.handover(period.id, by, note, now)
    roster = core.config.roster
    on_roster = period.shift is None or roster is None or any(  # a shift comes from a roster
        by in people for people in roster.holders(period.shift).values())
    return {"shift": period.id, "until": core.clock.format(period.end),
            "on_roster": on_roster}


@handler("report.show")
def show(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    health = core.reports.health() if core.reports.health is not None else None
    return {"reports": kept_or_fresh(core.store, core.config, core.clock, args, health)}


def kept_or_fresh(store: Any, config: Any, clock: Any, args: dict[str, Any],
                  health: Any = None) -> list[dict[str, Any]]:
    """The reports ``args`` names ({kind, period, fresh}): kept ones as they were made, else
    (or with ``fresh``) rendered from the store now."""
    found = []
    now = clock.time()
    for period in _periods(config, clock, args):
        if period.start > now:  # nothing to report yet: never show it as a finished shift
            raise CommandError(msg(
                f"{period.id} 尚未开始（{clock.format(period.start)} 开始），还没有报告",
                f"{period.id} has not started yet (starts {clock.format(period.start)})"))
        row = None if args.get("fresh") else store.kept_report(period.kind, period.id)
        if row is not None:
            markdown, html, made, kept = row["markdown"], row["html"], row["created_at"], True
        else:
            markdown, html = render(store, config, clock, period, health)
            made, kept = None, False
        found.append({"kind": period.kind, "period": period.id, "kept": kept,
                      "in_progress": period.end > now,
                      "created_at": clock.format(made) if made is not None else None,
                      "markdown": markdown, "html": html})
    return found


def _periods(config: Any, clock: Any, args: dict[str, Any]) -> list[Period]:
    kind, text = str(args.get("kind") or ""), str(args.get("period") or "")
    try:
        if kind == "weekly" and not text:  # the briefing a person asks for: last week's
            return [periods.report_period("weekly", clock.now())]
        if kind == "weekly":
            return [periods.weekly(text, clock.tz)]
        if kind == "duty":
            return periods.duty_periods(text, config.roster, clock.tz)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    raise CommandError(msg(f"未知的报告类型 {kind!r}（duty、weekly）",
                           f"unknown report kind {kind!r} (duty, weekly)"))


# CLI ------------------------------------------------------------------------------------------


def add_subcommands(sub: Any, with_config) -> None:
    note = with_socket(with_config(sub.add_parser(
        "handover", help="leave the handover note for this shift's duty report")))
    note.add_argument("--by", required=True, help="who hands over (name)")
    note.add_argument("--note", required=True, help="what the next shift must know")
    note.set_defaults(func=cmd_handover)

    # One `report` subcommand for both uses the issue names: `report ID --stage …` records a
    # report to superiors (首报/续报/终报); `report duty|weekly …` shows a kept report.
    report = with_socket(with_config(sub.add_parser(
        "report", help="report an incident to superiors (report ID --stage 首报|续报|终报 "
                       "--by NAME), or show a kept report (report duty --shift DATE[/班次], "
                       "report weekly --week 2026-W47)")))
    report.add_argument("what", metavar="ID|duty|weekly",
                        help="an incident id, or duty / weekly")
    report.add_argument("--stage", metavar="首报|续报|终报",
                        help="incident report stage: 首报 (first), 续报 (follow_up), 终报 (final)")
    report.add_argument("--by", help="who reports (name)")
    report.add_argument("--note", default="", help="what was reported, for the record")
    report.add_argument("--shift", help="duty day, optionally /shift name (report duty)")
    report.add_argument("--week",
                        help="ISO week, e.g. 2026-W47 (report weekly); default: the last full week")
    report.add_argument("--html", action="store_true", help="print the HTML page")
    report.add_argument("--fresh", action="store_true",
                        help="render from the store now instead of the kept report")
    report.set_defaults(func=cmd_report_any)


def cmd_report_any(args) -> int:
    from yuqingd.commands import incidents

    needed = {"duty": ("shift",), "weekly": ()}.get(args.what, ("stage", "by"))
    missing = [f"--{name}" for name in needed if not getattr(args, name)]
    if "--stage" in missing:  # say what the stages are
        missing[missing.index("--stage")] = f"--stage（{incidents.stages_told()}）"
    if missing:
        print(msg(f"yuqingd report {args.what}: 需要 {' '.join(missing)}",
                  f"yuqingd report {args.what}: {' '.join(missing)} required"), file=sys.stderr)
        return EX_USAGE
    if args.what not in ("duty", "weekly"):
        try:
            args.stage = incidents.stage_of(args.stage)
        except CommandError as exc:
            print(f"yuqingd report {args.what}: {exc}", file=sys.stderr)
            return EX_USAGE
    if args.what in ("duty", "weekly"):
        args.kind = args.what
        return cmd_report(args)
    args.incident = args.what
    return incidents.cmd_report(args)


def cmd_handover(args) -> int:
    code, reply = call(args, {"command": "handover", "by": args.by, "note": args.note})
    if code:
        return code
    print(msg(f"交接事项已记录，将写入 {reply['shift']} 班次的值班报告（{reply['until']} 交班）",
              f"handover note kept for shift {reply['shift']} (ends {reply['until']})"))
    if not reply.get("on_roster", True):
        print(msg(f"注意：值班表中 {args.by} 不在 {reply['shift']} 班次",
                  f"note: {args.by} is not on the roster for {reply['shift']}"), file=sys.stderr)
    return EX_OK


def cmd_report(args) -> int:
    from yuqingd.config import control_socket_path, default_config_path
    from yuqingd.control import ControlError, request
    from yuqingd.located import ConfigError

    payload = {"command": "report.show", "kind": args.kind,
               "period": args.shift if args.kind == "duty" else args.week, "fresh": args.fresh}
    config_path = args.config or default_config_path()
    try:
        reply = request(args.socket or control_socket_path(config_path), payload)
    except ControlError:
        reply = None  # no daemon: read the state database ourselves
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EX_CONFIG
    if reply is None:
        code, reply = _without_daemon(config_path, payload)
        if code:
            return code
    if not reply.get("ok"):
        print(f"yuqingd: {reply.get('error')}", file=sys.stderr)
        return EX_FAILURE
    for n, found in enumerate(reply["reports"]):
        if n:
            print("\n" + "-" * 40 + "\n")
        if found.get("in_progress"):
            print(msg(f"（{found['period']} 尚未结束，以下为截至目前的情况）",
                      f"({found['period']} is still running; what there is so far)"),
                  file=sys.stderr)
        elif not found["kept"]:
            print(msg(f"（{found['period']} 没有留存的报告，以下按当前数据生成）",
                      f"(no kept report for {found['period']}; rendered from the store now)"),
                  file=sys.stderr)
        print(found["html"] if args.html else found["markdown"], end="")
    return EX_OK


def _without_daemon(config_path, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from yuqingd.config import load_config
    from yuqingd.located import ConfigError
    from yuqingd.plugins import Plugins, get_plugin_manager
    from yuqingd.time.clock import Clock

    try:
        config = load_config(config_path, Plugins(get_plugin_manager()))
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EX_CONFIG, {}
    if not config.database.exists():
        return EX_OK, {"ok": False, "error": msg(f"没有状态数据库 {config.database}",
                                                 f"no state database at {config.database}")}
    store = open_offline(config.database)
    if store is None:
        return EX_UNAVAILABLE, {}
    try:
        found = kept_or_fresh(store, config, Clock(config.file.timezone), payload)
    except CommandError as exc:
        return EX_OK, {"ok": False, "error": str(exc)}
    finally:
        store.close()
    return EX_OK, {"ok": True, "reports": found}
