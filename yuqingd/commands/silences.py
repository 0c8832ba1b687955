"""Silence commands: ``yuqingd silence add|list|remove`` (静默)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yuqingd.commands import EX_OK, CommandError, call, handler, with_socket
from yuqingd.commands.incidents import via
from yuqingd.commands.watches import duration, person
from yuqingd.located import did_you_mean, msg
from yuqingd.runtime.silences import SCOPE_NAMES, SCOPES

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


@handler("silence.add")
def add(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    by = person(args)
    given = [s for s in SCOPES if str(args.get(s) or "").strip()]
    if len(given) != 1:
        raise CommandError(msg("请指定且只指定一个：--rule、--key 或 --source",
                               "give exactly one of --rule, --key, --source"))
    scope = given[0]
    target = str(args[scope]).strip()
    rule_ids = core.config.ruleset.all_rule_ids
    if scope == "rule" and target not in rule_ids:
        raise CommandError(msg(f"没有编号为 {target} 的规则", f"no rule {target}")
                           + did_you_mean(target, rule_ids))
    source_names = [s.name for s in core.config.sources]
    if scope == "source" and target not in source_names:
        raise CommandError(msg(f"没有名为 {target} 的信息源", f"no source {target}")
                           + did_you_mean(target, source_names))
    if args.get("for") in (None, ""):
        raise CommandError(msg("需要 --for 时长（如 2h）", "--for DURATION is required"))
    length = duration(args, "for", 0)
    reason = str(args.get("reason") or "").strip()
    if not reason:
        raise CommandError(msg("需要 --reason 说明静默原因", "--reason TEXT is required"))
    silence_id = core.silences.add(scope, target, length, reason, by, now, via=via(args))
    return {"silence": silence_id, "scope": scope, "target": target,
            "until": core.clock.format(now + length)}


@handler("silence.list")
def list_(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    return {"silences": [
        {"silence": row["id"], "scope": row["scope"], "target": row["target"],
         "reason": row["reason"], "by": row["created_by"],
         "since": core.clock.format(row["created_at"]),
         "until": core.clock.format(row["ends_at"])}
        for row in core.silences.active(now)]}


@handler("silence.remove")
def remove(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    by = person(args)
    target = str(args.get("silence") or "").strip()
    row = core.silences.get(int(target)) if target.isdigit() else None
    if row is None or row["removed_at"] is not None or row["ends_at"] <= now:
        raise CommandError(msg(f"没有编号为 {target} 的生效中的静默",
                               f"no active silence {target}"))
    core.silences.remove(row["id"], by, now, via=via(args))
    return {"silence": row["id"]}


# CLI --------------------------------------------------------------------------------------


def add_subcommands(sub: Any, with_config) -> None:
    silence = sub.add_parser("silence", help="mute a rule, key or source's notifications (静默)")
    verbs = silence.add_subparsers(dest="verb", required=True)
    add_p = with_socket(with_config(verbs.add_parser(
        "add", help="silence for a while (never hides a 重大 incident from the leader level)")))
    what = add_p.add_mutually_exclusive_group(required=True)
    what.add_argument("--rule", help="rule id")
    what.add_argument("--key", help="group key (watched name, topic, story id, source)")
    what.add_argument("--source", help="source name")
    add_p.add_argument("--for", dest="for_", metavar="DURATION", required=True,
                       help="how long, e.g. 2h")
    add_p.add_argument("--reason", required=True, help="why (kept in the record)")
    add_p.add_argument("--by", required=True, help="who silences (name)")
    add_p.set_defaults(func=cmd_add)
    list_p = with_socket(with_config(verbs.add_parser("list", help="active silences")))
    list_p.set_defaults(func=cmd_list)
    remove_p = with_socket(with_config(verbs.add_parser("remove", help="end a silence now")))
    remove_p.add_argument("silence", help="silence id")
    remove_p.add_argument("--by", required=True, help="who removes it")
    remove_p.set_defaults(func=cmd_remove)


def cmd_add(args) -> int:
    code, reply = call(args, {"command": "silence.add", "rule": args.rule, "key": args.key,
                              "source": args.source, "for": args.for_, "reason": args.reason,
                              "by": args.by})
    if code:
        return code
    print(msg(f"静默 {reply['silence']} 已生效：{SCOPE_NAMES[reply['scope']]} {reply['target']}，"
              f"至 {reply['until']}",
              f"silence {reply['silence']}: {reply['scope']} {reply['target']} until "
              f"{reply['until']}"))
    return EX_OK


def cmd_list(args) -> int:
    code, reply = call(args, {"command": "silence.list"})
    if code:
        return code
    if not reply["silences"]:
        print(msg("没有生效中的静默", "no active silences"))
    for s in reply["silences"]:
        print(f"{s['silence']}\t{SCOPE_NAMES[s['scope']]} {s['target']}\t{s['since']} → "
              f"{s['until']}\t{s['by']}：{s['reason']}")
    return EX_OK


def cmd_remove(args) -> int:
    code, reply = call(args, {"command": "silence.remove", "silence": args.silence,
                              "by": args.by})
    if code:
        return code
    print(msg(f"静默 {reply['silence']} 已解除", f"silence {reply['silence']} removed"))
    return EX_OK
