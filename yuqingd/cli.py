"""Command line (``yuqingd --help``). Exit 78 (EX_CONFIG) on a config error."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

import trio

from yuqingd import __version__, cli_zh, commands, startup_errors
from yuqingd.config import (
    CONFIG_ENV,
    DATABASE_NAME,
    DEFAULT_CONFIG_PATH,
    control_socket_path,
    default_config_path,
    load_config,
    state_dir_path,
)
from yuqingd.control import ControlError, request
from yuqingd.exit_codes import (
    EX_CANTCREAT,
    EX_CONFIG,
    EX_DATAERR,
    EX_FAILURE,
    EX_NOINPUT,
    EX_NOPERM,
    EX_OK,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EX_USAGE,
)
from yuqingd.located import LANGUAGE_ENV, ConfigError, FileUnreadable, english, msg
from yuqingd.log import configure_logging
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.store.api import StateInUse


def main(argv: list[str] | None = None) -> int:
    argv, lang = _take_lang(sys.argv[1:] if argv is None else list(argv))
    if lang:
        os.environ[LANGUAGE_ENV] = lang
    parser = _parser()  # in the language chosen: --help and argparse's errors included
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EX_USAGE
    missing = _missing_config(args)
    if missing:
        print(missing, file=sys.stderr)
        return EX_CONFIG
    return args.func(args)


def _take_lang(argv: list[str]) -> tuple[list[str], str | None]:
    """``--lang X`` taken from anywhere on the line (`yuqingd status --lang en` as well as
    `yuqingd --lang en status`); a bad value is left for argparse to refuse."""
    rest: list[str] = []
    lang = None
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest += argv[i:]
            break
        if word == "--lang" and i + 1 < len(argv) and argv[i + 1] in ("zh", "en"):
            lang = argv[i + 1]
            i += 2
            continue
        if word in ("--lang=zh", "--lang=en"):
            lang = word.split("=", 1)[1]
        else:
            rest.append(word)
        i += 1
    return rest, lang


def _missing_config(args) -> str | None:
    """What to tell a user whose config file does not exist; None when there is one (or no need)."""
    if (not hasattr(args, "config") or getattr(args, "socket", None) or getattr(args, "files", None)
            or args.func in (cmd_plugins, cmd_plugins_enable)):  # these work without a config
        return None
    if args.config is not None:
        path, origin_zh, origin_en = args.config, "--config", "--config"
    elif os.environ.get(CONFIG_ENV):
        path, origin_zh, origin_en = default_config_path(), CONFIG_ENV, CONFIG_ENV
    else:
        path, origin_zh, origin_en = default_config_path(), "默认位置", "the default location"
    if path.exists():
        return None
    demo = Path("etc/demo/yuqingd.yaml")
    hint_zh = f"；在源码目录中试用演示: --config {demo}" if demo.exists() else ""
    hint_en = f"; in the checkout, for the demo: --config {demo}" if demo.exists() else ""
    return msg(
        f"yuqingd: 找不到配置文件 {path}（{origin_zh}）。请用 --config 文件 指定，"
        f"或设置环境变量 {CONFIG_ENV}（依次查找: --config, ${CONFIG_ENV}, "
        f"{DEFAULT_CONFIG_PATH}）{hint_zh}",
        f"yuqingd: config file {path} not found ({origin_en}). Name one with --config FILE "
        f"or set {CONFIG_ENV} (tried in order: --config, ${CONFIG_ENV}, "
        f"{DEFAULT_CONFIG_PATH}){hint_en}")


def _parser() -> argparse.ArgumentParser:
    """The command line, its help and argparse's own messages in the language of ``msg``."""
    cli_zh.use_argparse_language(english())
    parser = _english_parser()
    cli_zh.localize(parser, english=english())
    return parser


def _english_parser() -> argparse.ArgumentParser:
    """The command line with its help as written (English; yuqingd.cli_zh has the Chinese)."""
    parser = argparse.ArgumentParser(
        prog="yuqingd", description="public-opinion monitoring and escalation daemon")
    parser.add_argument("--version", action="version", version=f"yuqingd {__version__}",
                        help="show the version and exit")
    parser.add_argument("--lang", choices=("zh", "en"),
                        help="language of messages (default: Chinese; English with LANG=en*)")
    sub = parser.add_subparsers(metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="config file (default: $YUQINGD_CONFIG or /etc/yuqingd/yuqingd.yaml)",
        )
        return p

    run = with_config(sub.add_parser("run", help="run the daemon in the foreground"))
    run.set_defaults(func=cmd_run)
    check = with_config(sub.add_parser("check", help="validate config, rules and plugin sections"))
    check.set_defaults(func=cmd_check)
    plugins = with_config(sub.add_parser(
        "plugins", help="list plugins with versions and kinds; those disabled or quarantined"))
    plugins.set_defaults(func=cmd_plugins)
    plugin_actions = plugins.add_subparsers(metavar="ACTION")
    enable = plugin_actions.add_parser(
        "enable", help="take a plugin out of quarantine (after it blocked the event loop)")
    # SUPPRESS: `plugins --config X enable N` keeps X (a subparser's default would replace it).
    enable.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (default: $YUQINGD_CONFIG or /etc/yuqingd/yuqingd.yaml)")
    enable.add_argument("name", help="the plugin's name, as `yuqingd plugins` lists it")
    enable.add_argument("--socket", type=Path, help="control socket (default: from the config)")
    enable.set_defaults(func=cmd_plugins_enable)
    reload = with_config(
        sub.add_parser("reload", help="reload config and rules, wait for the result")
    )
    reload.add_argument("--socket", type=Path, help="control socket (default: from the config)")
    reload.set_defaults(func=cmd_reload)
    status = with_config(sub.add_parser("status", help="ask the running daemon for its status"))
    status.add_argument("--socket", type=Path, help="control socket (default: from the config)")
    status.set_defaults(func=cmd_status)
    sources = with_config(sub.add_parser(
        "sources", help="list the running daemon's sources: state, last item, errors, next poll"))
    sources.add_argument("--socket", type=Path, help="control socket (default: from the config)")
    sources.set_defaults(func=cmd_sources)
    schema = sub.add_parser(
        "schema", help="print the JSON Schema of rule files or of the config (for editors)"
    )
    schema.add_argument("what", nargs="?", choices=("rules", "config"), default="rules",
                        help="rules (a rule file, default) or config (with installed kinds)")
    schema.add_argument("--output", "-o", type=Path, help="write to FILE instead of stdout")
    schema.set_defaults(func=cmd_schema)
    explain = with_config(
        sub.add_parser("explain", help="show why an item matches each rule, or does not")
    )
    explain.add_argument("--item", type=Path, required=True,
                         help="one item as a JSON object (the fields of a simulate input line)")
    explain.set_defaults(func=cmd_explain)
    analyze = with_config(sub.add_parser(
        "analyze", help="what the pipeline makes of each item of a sample, one JSON line each",
        description="Analyse each item of a sample as the daemon does (nothing stored, no rule "
        "run); the output format is in docs/analyze.md."))
    analyze.add_argument("--items", type=Path, required=True, metavar="F.jsonl",
                         help="JSONL sample, one item per line (simulate's item fields); "
                         "- for stdin")
    analyze.set_defaults(func=cmd_analyze)
    simulate = with_config(sub.add_parser(
        "simulate", help="run the rules over a recorded stream on a simulated clock (JSONL out)"))
    simulate.add_argument("--events", type=Path, required=True,
                          help="input JSONL: items and actions ordered by 'at'")
    simulate.add_argument("--until", help="stop at this ISO 8601 time (default: last line + 24h)")
    simulate.set_defaults(func=cmd_simulate)
    test_rules = with_config(sub.add_parser(
        "test-rules", help="run the tests written in rule files on a simulated clock"))
    test_rules.add_argument("files", nargs="*", type=Path,
                            help="rule files (default: those the config names)")
    test_rules.set_defaults(func=cmd_test_rules)
    migrate = with_config(sub.add_parser(
        "migrate", help="bring the state database to this version's schema (daemon stopped)"))
    migrate.set_defaults(func=cmd_migrate)
    commands.add_subcommands(sub, with_config)
    return parser


def _config_path(args) -> Path:
    return args.config or default_config_path()


def _plugins() -> Plugins:
    plugins = Plugins(get_plugin_manager())
    for why in plugins.refused.values():  # every command says it: the plugin is not there
        print(f"yuqingd: {why}", file=sys.stderr)
    return plugins


def _report(exc: ConfigError) -> int:
    for error in exc.errors:
        print(error, file=sys.stderr)
    if isinstance(exc, FileUnreadable):  # not a config error: who runs it, or where
        return EX_NOPERM if exc.errno in (errno.EACCES, errno.EPERM) else EX_NOINPUT
    print(
        msg(f"配置有 {len(exc.errors)} 处错误", f"{len(exc.errors)} error(s) in the config"),
        file=sys.stderr,
    )
    return EX_CONFIG


def cmd_check(args) -> int:
    path = _config_path(args)
    plugins = _plugins()
    try:
        config = load_config(path, plugins)
    except ConfigError as exc:
        return _report(exc)
    for warning in _secret_warnings(config):
        print(warning, file=sys.stderr)
    for broken in sorted(plugins.broken.values(), key=lambda b: b.name):
        # Not an error: the config does not use it (else load_config said so, at its line).
        print(msg(f"警告：插件 '{broken.name}' {broken.describe()}",
                  f"warning: plugin '{broken.name}' {broken.describe()}"), file=sys.stderr)
    print(
        msg(
            f"{path}: 配置正确（{len(config.ruleset.rules)} 条规则，"
            f"{len(config.sources)} 个信息源，"
            f"{len(config.notifiers)} 个通知渠道）",
            f"{path}: OK ({len(config.ruleset.rules)} rules, {len(config.sources)} sources, "
            f"{len(config.notifiers)} notifiers)",
        )
    )
    return EX_OK


def _secret_warnings(config) -> list[str]:
    from yuqingd.located import load_yaml
    from yuqingd.secrets import inline_secret_warnings

    sections: list[tuple[tuple, object]] = [((), config.file)]
    sections += [(("sources", i), s.options) for i, s in enumerate(config.sources)]
    sections += [(("notifiers", i), n.options) for i, n in enumerate(config.notifiers)]
    return inline_secret_warnings(load_yaml(config.path), sections)


def cmd_run(args) -> int:
    from yuqingd.daemon import serve

    # State files (database, notifier files, quarantine) are for the service's own user and at
    # most its group, even where the unit's UMask= does not apply (a terminal, a container).
    os.umask(os.umask(0) | 0o027)
    path = _config_path(args)
    plugins = _plugins()
    try:
        config = load_config(path, plugins)
    except ConfigError as exc:
        configure_logging()
        return _report(exc)
    configure_logging(config.file.log.format, config.file.log.level, config.file.timezone)
    try:
        trio.run(serve, path, plugins)
    except ConfigError as exc:  # the file changed between the check above and start-up
        return _report(exc)
    except (ControlError, StateInUse) as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except (OSError, BaseExceptionGroup) as exc:
        refused = startup_errors.os_error_in(exc)
        if refused is None:
            raise
        told, status = startup_errors.describe(refused)
        print(told, file=sys.stderr)
        return status
    return EX_OK


def cmd_migrate(args) -> int:
    """What a package upgrade runs before the new version starts: a failed migration then fails
    the upgrade visibly instead of the service's next start. Reads only ``state_dir:``."""
    from yuqingd.store.sqlite import Store

    try:
        database = state_dir_path(_config_path(args)) / DATABASE_NAME
    except ConfigError as exc:
        return _report(exc)
    if not database.exists():
        print(msg(f"没有状态数据库 {database}，无需迁移",
                  f"no database at {database}: nothing to do"))
        return EX_OK
    try:
        store = Store(database)
    except StateInUse as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    before, after = store.schema_version_at_open, store.schema_version
    store.close()
    print(msg(f"{database}: 数据库架构版本 {before} → {after}",
              f"{database}: schema version {before} -> {after}"))
    return EX_OK


def _quarantine(args) -> tuple[Path | None, dict]:
    """The state folder and its quarantine entries; none where no config says where it is."""
    from yuqingd import quarantine

    try:
        state_dir = state_dir_path(_config_path(args))
    except ConfigError:
        return None, {}
    return state_dir, quarantine.load(state_dir)


def cmd_plugins(args) -> int:
    """One line per plugin: name, version, kinds, and (when not in use) why."""
    plugins = _plugins()
    _state_dir, quarantined = _quarantine(args)
    for info in plugins.describe():
        kinds = [f"source:{k}" for k in info.source_kinds]
        kinds += [f"notifier:{k}" for k in info.notifier_kinds]
        line = f"{info.name}\t{info.version}\t{' '.join(kinds)}"
        if info.name in quarantined:
            line += f"\t{quarantined[info.name].describe()}"
        print(line)
    for broken in sorted(plugins.broken.values(), key=lambda b: b.name):
        print(f"{broken.name}\t{broken.version}\t\t{broken.describe()}")
    return EX_OK


def cmd_plugins_enable(args) -> int:
    """Through the running daemon (it starts the plugin's parts at once), else in the file."""
    from yuqingd import quarantine

    state_dir, quarantined = _quarantine(args)
    if state_dir is None:
        print(msg(f"yuqingd: 无法读取配置 {_config_path(args)}",
                  f"yuqingd: cannot read the config {_config_path(args)}"), file=sys.stderr)
        return EX_CONFIG
    if args.name not in quarantined:
        print(msg(f"插件 '{args.name}' 未被隔离", f"plugin '{args.name}' is not quarantined"))
        return EX_OK
    try:
        socket = args.socket or control_socket_path(_config_path(args))
        reply = request(socket, {"command": "plugins.enable", "plugin": args.name})
    except (ConfigError, ControlError):
        quarantine.remove(state_dir, args.name)  # not running: the next start runs it
        print(msg(f"已解除插件 '{args.name}' 的隔离，下次启动时生效",
                  f"plugin '{args.name}' enabled; it runs from the next start"))
        return EX_OK
    if not reply.get("ok"):
        print(f"yuqingd: {reply.get('error')}", file=sys.stderr)
        return EX_FAILURE
    print(msg(f"已解除插件 '{args.name}' 的隔离，运行中的服务已启用它",
              f"plugin '{args.name}' enabled; the running daemon runs it again"))
    return EX_OK


def _control(args, payload: dict) -> tuple[int, dict]:
    try:
        socket = args.socket or control_socket_path(_config_path(args))
    except ConfigError as exc:
        return _report(exc), {}
    try:
        return EX_OK, request(socket, payload)
    except ControlError as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE, {}


def cmd_reload(args) -> int:
    """Like `systemctl reload`, but returns only once the daemon has applied or refused it."""
    code, reply = _control(args, {"command": "reload"})
    if code:
        return code
    if not reply.get("ok"):
        for error in reply.get("errors", []):
            print(error, file=sys.stderr)
        print(f"yuqingd: {reply.get('error')}", file=sys.stderr)
        return EX_CONFIG
    print(msg("已重新加载配置和规则", "config and rules reloaded"))
    return EX_OK


def cmd_status(args) -> int:
    code, reply = _control(args, {"command": "status"})
    if code:
        return code
    from yuqingd.health import health_line

    print(reply.get("status", ""))
    for entry in reply.get("sources", []):
        print(health_line(entry))
    for entry in reply.get("notifiers", []):
        print(health_line(entry, notifier=True))
    from yuqingd.reports.labels import STAGES

    # The words of `yuqingd incidents` (待确认 / 第3级), not the stored English keys.
    words = {"open": STAGES["opened"], "acknowledged": STAGES["acknowledged"],
             "closed": STAGES["closed"]}
    for incident in reply.get("incidents", []):
        print(
            f"{incident['id']}\t{words.get(incident['status'], incident['status'])}\t"
            f"第{incident['level']}级\t"
            f"{incident['severity']}\t{incident['rule']}\t{incident['key']}\t"
            f"{incident['opened_at']}"
        )
    return EX_OK


def cmd_sources(args) -> int:
    from yuqingd.health import sources_table

    code, reply = _control(args, {"command": "status"})
    if code:
        return code
    for line in sources_table(reply.get("sources", [])):
        print(line)
    return EX_OK


def cmd_schema(args) -> int:
    """Generated from the models the loader uses; the config's from the installed kinds."""
    import json

    from yuqingd.plugins import PluginError
    from yuqingd.schema import config_schema, rules_schema

    try:
        schema = config_schema(_plugins()) if args.what == "config" else rules_schema()
    except PluginError as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_CONFIG
    text = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return EX_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"yuqingd: {args.output}: {exc.strerror}", file=sys.stderr)
        return EX_CANTCREAT
    return EX_OK


def cmd_explain(args) -> int:
    from yuqingd.explain import ItemError, explain_item, read_item

    try:
        config = load_config(_config_path(args), _plugins())
    except ConfigError as exc:
        return _report(exc)
    try:
        item = read_item(args.item, [s.name for s in config.sources])
    except ItemError as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_NOINPUT
    sys.stdout.write(explain_item(config, item))
    return EX_OK


def cmd_analyze(args) -> int:
    from yuqingd.analyze import analyze, dumps, read_sample
    from yuqingd.explain import ItemError

    _quiet_logs()
    plugins = _plugins()
    try:
        config = load_config(_config_path(args), plugins)
    except ConfigError as exc:
        return _report(exc)
    sources = [s.name for s in config.sources]
    try:
        if str(args.items) == "-":
            sample = read_sample(sys.stdin, sources, "<stdin>")
        else:
            with open(args.items, encoding="utf-8") as f:
                sample = read_sample(f, sources, str(args.items))
    except OSError as exc:
        print(f"yuqingd: {args.items}: {exc.strerror}", file=sys.stderr)
        return EX_NOINPUT
    except UnicodeDecodeError:
        print(msg(f"yuqingd: {args.items}: 文件不是 UTF-8 编码",
                  f"yuqingd: {args.items}: file is not UTF-8"), file=sys.stderr)
        return EX_DATAERR
    except ItemError as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_DATAERR
    try:
        for record in analyze(config, sample, plugins.enrichers()):
            print(dumps(record))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EX_OK


def _quiet_logs() -> None:
    configure_logging("json", "error")  # simulated runs report on stdout; logs only errors


def cmd_simulate(args) -> int:
    from yuqingd.simulate import SimulationInputError, dumps, parse_inputs, parse_time, simulate

    _quiet_logs()
    plugins = _plugins()
    try:
        config = load_config(_config_path(args), plugins)
    except ConfigError as exc:
        return _report(exc)
    try:
        with open(args.events, encoding="utf-8") as f:
            inputs = parse_inputs(f, name=str(args.events))
        until = parse_time(args.until) if args.until else None
    except OSError as exc:
        print(f"yuqingd: {args.events}: {exc.strerror}", file=sys.stderr)
        return EX_NOINPUT
    except (SimulationInputError, ValueError) as exc:
        print(f"yuqingd: {exc}", file=sys.stderr)
        return EX_DATAERR
    try:
        for record in simulate(config, plugins, inputs, until=until):
            print(dumps(record))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EX_OK


def cmd_test_rules(args) -> int:
    from yuqingd.rule_tests import report, run_rule_tests, standalone_config

    _quiet_logs()
    plugins = _plugins()
    try:
        if args.files:
            config, temp = standalone_config(args.files, plugins)
        else:
            config, temp = load_config(_config_path(args), plugins), None
    except ConfigError as exc:
        return _report(exc)
    try:
        outcomes = run_rule_tests(config, plugins)
    finally:
        if temp is not None:
            temp.cleanup()
    print(report(outcomes))
    return EX_OK if all(o.passed for o in outcomes) else EX_FAILURE
