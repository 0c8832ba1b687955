"""Watch commands: ``yuqingd watch start|list|stop`` (跟踪)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yuqingd.commands import EX_OK, CommandError, call, handler, with_socket
from yuqingd.located import did_you_mean, msg
from yuqingd.rules.model import DEFAULT_SUMMARY_EVERY, DEFAULT_WATCH
from yuqingd.runtime.watches import KIND_NAMES, WatchRequest
from yuqingd.time.durations import format_duration, format_duration_zh, parse_duration

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


def person(args: dict[str, Any]) -> str:
    by = str(args.get("by") or "").strip()
    if not by:
        raise CommandError(msg("需要 --by 姓名", "--by NAME is required"))
    return by


def duration(args: dict[str, Any], name: str, default: float) -> float:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise CommandError(f"--{name}: {exc}") from None
    if seconds <= 0:
        raise CommandError(msg(f"--{name} 必须大于 0", f"--{name} must be positive"))
    return seconds


def roles(args: dict[str, Any]) -> list[str]:
    value = args.get("notify") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _target(core: Core, args: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, key, title) of what to watch: exactly one of story, topic, entity."""
    given = [k for k in ("story", "topic", "entity") if args.get(k) not in (None, "")]
    if len(given) != 1:
        raise CommandError(msg("请指定且只指定一个：--story、--topic 或 --entity",
                               "give exactly one of --story, --topic, --entity"))
    kind, key = given[0], str(args[given[0]]).strip()
    ruleset = core.config.ruleset
    if kind == "story":
        row = core.watches.story(int(key)) if key.isdigit() else None
        if row is None:
            raise CommandError(msg(f"没有编号为 {key} 的报道", f"no story {key}"))
        return kind, key, f"报道：{row['title']}"
    if kind == "topic" and key not in ruleset.topics:
        raise CommandError(msg(f"未定义的主题 {key}（已定义：{'、'.join(ruleset.topics)}）",
                               f"unknown topic {key}") + did_you_mean(key, ruleset.topics))
    if kind == "entity":
        key = _entity_named(ruleset.entities, key)
    return kind, key, f"{KIND_NAMES[kind]}：{key}"


def _entity_named(entities: Any, typed: str) -> str:
    """The watched name ``typed`` means: itself, or the entity it is an alias of (people type
    六处 for 六处学校, as the items do); else the error suggests the nearest."""
    for entity in entities:
        if typed == entity.name or typed in entity.aliases:
            return str(entity.name)
    spellings = [e.name for e in entities] + [a for e in entities for a in e.aliases]
    raise CommandError(msg(f"监测名单中没有 {typed}", f"{typed} is not on the watch list")
                       + did_you_mean(typed, spellings))


@handler("watch.start")
def start(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    by = person(args)
    kind, key, title = _target(core, args)
    length = duration(args, "for", DEFAULT_WATCH)
    every = duration(args, "every", DEFAULT_SUMMARY_EVERY)
    notify = roles(args)
    directory = core.outreach.directory
    unknown = [r for r in notify if not directory.knows(r)]
    if unknown:
        raise CommandError(msg(f"未定义的角色：{'、'.join(unknown)}",
                               f"unknown roles: {', '.join(unknown)}"))
    # The person who starts a watch receives its summaries, with any roles they name.
    people = (by,) if directory.channels(by) else ()
    if not people and not notify:
        raise CommandError(msg(f"{by} 没有登记联系渠道，请用 --notify 指定接收跟踪情况的角色",
                               f"{by} has no channels; name roles with --notify"))
    row, new = core.watches.start_now(WatchRequest(
        kind=kind, key=key, title=title, duration=length, summary_every=every,
        longest=3 * length, roles=tuple(notify), people=people, by=by), now)
    return {"watch": row["id"], "new": new, "kind": kind, "key": key, "title": row["title"],
            "until": core.clock.format(row["ends_at"]), "every": format_duration(every),
            "every_zh": format_duration_zh(every)}


@handler("watch.list")
def list_(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    out = []
    for row, items in core.watches.running():
        out.append({
            "watch": row["id"], "kind": row["kind"], "key": row["group_key"],
            "title": row["title"], "rule": row["rule_id"] or None, "by": row["started_by"],
            "started": core.clock.format(row["started"]),
            "until": core.clock.format(row["ends_at"]),
            "next_summary": core.clock.format(row["next_summary"])
            if row["next_summary"] is not None else None,
            "items": items,
        })
    return {"watches": out}


@handler("watch.stop")
def stop(core: Core, args: dict[str, Any], now: float) -> dict[str, Any]:
    by = person(args)
    target = str(args.get("watch") or "").strip()
    row = core.watches.get(int(target)) if target.isdigit() else None
    if row is None or row["state"] != "running":
        raise CommandError(msg(f"没有编号为 {target} 的进行中的跟踪",
                               f"no running watch {target}"))
    core.watches.stop_now(row["id"], now, by)
    return {"watch": row["id"]}


# CLI --------------------------------------------------------------------------------------


def add_subcommands(sub: Any, with_config) -> None:
    watch = sub.add_parser("watch", help="track a story, topic or entity (跟踪)")
    verbs = watch.add_subparsers(dest="verb", required=True)
    start_p = with_socket(with_config(verbs.add_parser(
        "start", help="start a watch: summaries every few hours, a closing summary")))
    what = start_p.add_mutually_exclusive_group(required=True)
    what.add_argument("--story", help="story id")
    what.add_argument("--topic", help="topic name")
    what.add_argument("--entity", help="watched name")
    start_p.add_argument("--for", dest="for_", metavar="DURATION", default="24h",
                         help="how long (default 24h)")
    start_p.add_argument("--every", metavar="DURATION", default="4h",
                         help="summary interval (default 4h)")
    start_p.add_argument("--notify", action="append", default=[],
                         help="role that also receives the summaries (repeatable)")
    start_p.add_argument("--by", required=True, help="who starts it (receives the summaries)")
    start_p.set_defaults(func=cmd_start)
    list_p = with_socket(with_config(verbs.add_parser("list", help="running watches")))
    list_p.set_defaults(func=cmd_list)
    stop_p = with_socket(with_config(verbs.add_parser(
        "stop", help="end a watch now (sends its closing summary)")))
    stop_p.add_argument("watch", help="watch id")
    stop_p.add_argument("--by", required=True, help="who stops it")
    stop_p.set_defaults(func=cmd_stop)


def cmd_start(args) -> int:
    code, reply = call(args, {"command": "watch.start", "story": args.story,
                              "topic": args.topic, "entity": args.entity, "for": args.for_,
                              "every": args.every, "notify": args.notify, "by": args.by})
    if code:
        return code
    verb = msg("已开始", "started") if reply["new"] else msg("已延长", "extended")
    # What is watched as people know it (报道：六处学校老师体罚学生), not a bare story number.
    shown = reply.get("title") or reply["key"]
    print(msg(f"跟踪 {reply['watch']} {verb}：{shown}，至 {reply['until']}，"
              f"每{reply.get('every_zh', reply['every'])}发送跟踪情况",
              f"watch {reply['watch']} {verb}: {shown} until {reply['until']}, "
              f"a summary every {reply['every']}"))
    return EX_OK


def cmd_list(args) -> int:
    code, reply = call(args, {"command": "watch.list"})
    if code:
        return code
    if not reply["watches"]:
        print(msg("没有进行中的跟踪", "no running watches"))
    for w in reply["watches"]:
        origin = f"规则 {w['rule']}" if w["rule"] else w["by"]
        print(f"{w['watch']}\t{w['title']}\t{origin}\t{w['started']} → {w['until']}\t"
              f"{msg('下次', 'next')} {w['next_summary'] or '-'}\t{w['items']} 条")
    return EX_OK


def cmd_stop(args) -> int:
    code, reply = call(args, {"command": "watch.stop", "watch": args.watch, "by": args.by})
    if code:
        return code
    print(msg(f"跟踪 {reply['watch']} 已结束，已发送跟踪总结",
              f"watch {reply['watch']} stopped; closing summary sent"))
    return EX_OK
