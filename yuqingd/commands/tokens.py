"""Bearer tokens of the HTTP API: ``yuqingd token add|list|revoke`` (访问令牌).

Through the control socket while the daemon runs (it holds the database); with the daemon
stopped the CLI opens the state database itself and runs the same handlers.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from yuqingd import tokens
from yuqingd.commands import (
    EX_CONFIG,
    EX_FAILURE,
    EX_OK,
    EX_UNAVAILABLE,
    CommandError,
    handler,
    open_offline,
    with_socket,
)
from yuqingd.located import msg
from yuqingd.store.api import Store, TokenRow

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core


def _name(args: dict[str, Any]) -> str:
    name = str(args.get("name") or "").strip()
    if not name:
        raise CommandError(msg("需要令牌名称", "a token name is required"))
    return name


def add_token(store: Store, fmt, args: dict[str, Any], now: float) -> dict[str, Any]:
    name = _name(args)
    person = str(args.get("person") or "").strip() or None
    try:
        row, token = tokens.make(store, name, person, now)
    except ValueError:
        raise CommandError(msg(f"已有名为 {name} 的有效令牌（可先吊销）",
                               f"a live token named {name} exists (revoke it first)")) from None
    return {"token": token, **_public(row, fmt)}


def list_tokens(store: Store, fmt, args: dict[str, Any], now: float) -> dict[str, Any]:
    return {"tokens": [_public(row, fmt) for row in store.tokens()
                       if args.get("all") or row.revoked_at is None]}


def revoke_token(store: Store, fmt, args: dict[str, Any], now: float) -> dict[str, Any]:
    target = str(args.get("id") or "").strip()
    live = [r for r in store.tokens() if r.revoked_at is None
            and (str(r.id) == target or r.name == target)]
    if len(live) != 1:
        raise CommandError(msg(f"没有编号或名称为 {target} 的有效令牌",
                               f"no live token {target}"))
    with store.transaction():
        store.revoke_token(live[0].id, now)
    return {"id": live[0].id, "name": live[0].name}


def _public(row: TokenRow, fmt) -> dict[str, Any]:
    """What may be shown of a token: never its digest."""
    by, _ = tokens.identity(row)
    return {"id": row.id, "name": row.name, "person": row.person, "acts_as": by,
            "created_at": fmt(row.created_at),
            "revoked_at": fmt(row.revoked_at) if row.revoked_at else None,
            "last_used_at": fmt(row.last_used_at) if row.last_used_at else None}


OPERATIONS = {"token.add": add_token, "token.list": list_tokens, "token.revoke": revoke_token}

for _command, _operation in OPERATIONS.items():
    def _handler(core: Core, args: dict[str, Any], now: float, _op=_operation) -> dict[str, Any]:
        return _op(core.store, core.clock.format, args, now)
    handler(_command)(_handler)


# CLI --------------------------------------------------------------------------------------


def add_subcommands(sub: Any, with_config) -> None:
    token = sub.add_parser("token", help="bearer tokens of the HTTP API (访问令牌)")
    verbs = token.add_subparsers(dest="verb", required=True)
    add_p = with_socket(with_config(verbs.add_parser(
        "add", help="make a token (printed once; only its hash is kept)")))
    add_p.add_argument("name", help="the integration or person it is for, e.g. oa-system")
    add_p.add_argument("--person", help="record its actions as this person (default: NAME)")
    add_p.set_defaults(func=cmd_add)
    list_p = with_socket(with_config(verbs.add_parser("list", help="live tokens")))
    list_p.add_argument("--all", action="store_true", help="revoked tokens too")
    list_p.set_defaults(func=cmd_list)
    revoke_p = with_socket(with_config(verbs.add_parser(
        "revoke", help="revoke a token now (its next request gets 401)")))
    revoke_p.add_argument("id", help="token id (or name), as `yuqingd token list` shows")
    revoke_p.set_defaults(func=cmd_revoke)


def _call(args, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The daemon's reply, or the same handler run on the database when no daemon runs."""
    from yuqingd.config import control_socket_path, default_config_path
    from yuqingd.control import ControlError, request
    from yuqingd.located import ConfigError

    config_path = args.config or default_config_path()
    try:
        reply = request(args.socket or control_socket_path(config_path), payload)
    except ControlError:
        if args.socket:
            print(msg(f"yuqingd: 无法连接控制套接字 {args.socket}",
                      f"yuqingd: cannot reach the control socket {args.socket}"), file=sys.stderr)
            return EX_UNAVAILABLE, {}
        reply = None
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EX_CONFIG, {}
    if reply is None:
        code, reply = _without_daemon(config_path, payload)
        if code:
            return code, reply
    if not reply.get("ok"):
        print(f"yuqingd: {reply.get('error')}", file=sys.stderr)
        return EX_FAILURE, reply
    return EX_OK, reply


def _without_daemon(config_path, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run the handler on the state database (read from the config's ``state_dir:`` only,
    like ``yuqingd migrate``: a broken rule file does not stop token management)."""
    from yuqingd.config import DATABASE_NAME, state_dir_path, timezone_of
    from yuqingd.located import ConfigError
    from yuqingd.time.clock import Clock, wall_time

    try:
        database = state_dir_path(config_path) / DATABASE_NAME
        clock = Clock(timezone_of(config_path))
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EX_CONFIG, {}
    store = open_offline(database)
    if store is None:
        return EX_UNAVAILABLE, {}
    try:
        operation = OPERATIONS[payload["command"]]
        return EX_OK, {"ok": True, **operation(store, clock.format, payload, wall_time())}
    except CommandError as exc:
        return EX_OK, {"ok": False, "error": str(exc)}
    finally:
        store.close()


def cmd_add(args) -> int:
    code, reply = _call(args, {"command": "token.add", "name": args.name,
                               "person": args.person})
    if code:
        return code
    print(msg(f"令牌 {reply['id']}（{reply['name']}，以 {reply['acts_as']} 的身份操作）已创建。"
              "请立即保存，此后不再显示：",
              f"token {reply['id']} ({reply['name']}, acts as {reply['acts_as']}) created. "
              "Keep it now; it is not shown again:"), file=sys.stderr)
    print(reply["token"])
    return EX_OK


def cmd_list(args) -> int:
    code, reply = _call(args, {"command": "token.list", "all": args.all})
    if code:
        return code
    if not reply["tokens"]:
        print(msg("没有有效的令牌", "no live tokens"))
        return EX_OK
    print("\t".join(["编号", "名称", "身份", "创建时间", "最近使用", "吊销时间"]))
    for t in reply["tokens"]:
        print("\t".join([str(t["id"]), t["name"], t["acts_as"], t["created_at"],
                         t["last_used_at"] or "-", t["revoked_at"] or "-"]))
    return EX_OK


def cmd_revoke(args) -> int:
    code, reply = _call(args, {"command": "token.revoke", "id": args.id})
    if code:
        return code
    print(msg(f"令牌 {reply['id']}（{reply['name']}）已吊销",
              f"token {reply['id']} ({reply['name']}) revoked"))
    return EX_OK
