"""What people do to the daemon (ack, report, check in, submit, …), one module per area.

Each area module registers, for every command, the handler the daemon runs (reached over the
control socket by the ``yuqingd`` CLI, and by ``yuqingd simulate`` from action lines, so a
simulated week exercises exactly what a duty officer's command does) and adds its ``yuqingd``
subcommands with ``add_subcommands(sub, with_config)``.

A handler is ``handler(core, args, now) -> dict`` (the reply, JSON-serialisable); it raises
:class:`CommandError` with a message for the person who typed the command. Handlers run on the
trio thread and must not await: each is one synchronous step against the store.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Re-exported for the command modules (from yuqingd.commands import EX_OK, …).
from yuqingd.exit_codes import EX_CONFIG as EX_CONFIG
from yuqingd.exit_codes import EX_FAILURE as EX_FAILURE
from yuqingd.exit_codes import EX_OK as EX_OK
from yuqingd.exit_codes import EX_UNAVAILABLE as EX_UNAVAILABLE
from yuqingd.exit_codes import EX_USAGE as EX_USAGE
from yuqingd.located import ConfigError, msg

if TYPE_CHECKING:  # the core builds the services handlers use; it imports the handlers
    from yuqingd.core import Core

# A handler gets the typed core (the services it needs), never the daemon or its lifecycle.
Handler = Callable[["Core", dict[str, Any], float], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}

AREAS = (
    "yuqingd.commands.incidents",
    "yuqingd.commands.duty",
    "yuqingd.commands.reports",
    "yuqingd.commands.watches",
    "yuqingd.commands.silences",
    "yuqingd.commands.tokens",
)



class CommandError(Exception):
    """A command that cannot be applied; the message is for the person who gave it."""


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        if name in HANDLERS and HANDLERS[name] is not func:
            raise RuntimeError(f"command {name!r} registered twice")
        HANDLERS[name] = func
        return func
    return register


def load() -> None:
    for area in AREAS:
        importlib.import_module(area)


def perform(core: Core, name: str, args: dict[str, Any], now: float) -> dict[str, Any]:
    """Run command ``name``; the reply has ``ok`` and, on failure, ``error``."""
    load()
    func = HANDLERS.get(name)
    if func is None:
        return {"ok": False, "error": msg(f"未知命令 {name!r}", f"unknown command {name!r}")}
    try:
        return {"ok": True, **func(core, args, now)}
    except CommandError as exc:
        return {"ok": False, "error": str(exc)}


def add_subcommands(sub: Any, with_config: Callable[[Any], Any]) -> None:
    load()
    for area in AREAS:
        sys.modules[area].add_subcommands(sub, with_config)


# CLI side --------------------------------------------------------------------------------------


def with_socket(parser: Any) -> Any:
    parser.add_argument("--socket", type=Path, help="control socket (default: from the config)")
    return parser


def call(args: Any, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send ``payload`` to the running core. Returns (exit code, reply); on failure the
    reason has been printed and the code is non-zero."""
    from yuqingd.config import control_socket_path, default_config_path
    from yuqingd.control import ControlError, request

    try:
        socket = args.socket or control_socket_path(args.config or default_config_path())
    except ConfigError as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EX_CONFIG, {}
    try:
        reply = request(socket, payload)
    except ControlError as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE, {}
    if not reply.get("ok"):
        print(f"yuqingd: {reply.get('error')}", file=sys.stderr)
        return EX_FAILURE, reply
    return EX_OK, reply


def open_offline(database: Path) -> Any:
    """The state database, for a command that found no daemon answering (reports, tokens);
    None, after saying so, when a daemon holds it all the same (its socket did not answer)."""
    from yuqingd.store import StateInUse, open_store

    try:
        return open_store(database)
    except StateInUse:
        print(msg("yuqingd 正在运行但控制套接字无应答，请稍后再试",
                  "yuqingd is running but its control socket does not answer; try again"),
              file=sys.stderr)
        return None
